"""A causal LM over a packed micro-batch, one forward code path for every method: the per-token
log-probabilities of its target tokens (DPO's policy and its reference stage), and the summed
cross-entropy built on them (SFT, SwiftKV). No token sees another sequence, and no sequence's last
token is trained to predict the next sequence's first.

With sdpa or eager attention the examples are kept apart by a 4D mask: transformers takes a 4D
`attention_mask` as it is (masking_utils returns it untouched) and eager attention adds it to
the scores, so it is additive, 0 where a query may look and the dtype's minimum where not.
Varlen flash attention finds the examples from `position_ids` restarting at 0, so it gets no
mask (a [B, 1, T, T] mask would also cost T^2 memory that flash attention exists to avoid)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, cast

import torch
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.data.chat import IGNORE_INDEX

MASKED_IMPLEMENTATIONS = ("sdpa", "eager")


class PackedLoss(NamedTuple):
    loss_sum: torch.Tensor
    """Sum of the cross-entropies of the micro-batch's target tokens (float32 scalar)."""
    target_tokens: torch.Tensor
    """How many target tokens that sum is over (int64 scalar)."""
    router_logits: tuple | None
    """The model's router logits when asked for (MoE), else None."""


def packed_causal_mask(segment_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, 1, T, T] additive mask from segment ids [B, T] (1..n per example, 0 for padding): a
    token attends to the earlier tokens of its own example. A padding token attends to itself
    only, so no row is all-masked (that would be NaN in softmax, and NaN times a zero gradient is
    still NaN)."""
    t = segment_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segment_ids.device).tril()
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    allowed = same & causal & (segment_ids[:, None, :] > 0)
    allowed |= torch.eye(t, dtype=torch.bool, device=segment_ids.device)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]


def shifted_targets(labels: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: the label token t is trained to predict, i.e. labels[t+1] when token t+1 belongs
    to the same example as token t, IGNORE_INDEX across a boundary and in padding."""
    same = (segment_ids[:, 1:] == segment_ids[:, :-1]) & (segment_ids[:, 1:] > 0)
    return torch.where(same, labels[:, 1:], torch.full_like(labels[:, 1:], IGNORE_INDEX))


class TargetLogps(NamedTuple):
    token_logps: torch.Tensor
    """[B, T] float32: log p(token t | the tokens before it in its sequence) where token t is a
    target (`target_mask`), 0 elsewhere; aligned with `input_ids`, as stored reference log-probs are."""
    target_mask: torch.Tensor
    """[B, T] bool: the target tokens (a trained label with a token of its own sequence before it)."""
    router_logits: tuple | None
    """The model's router logits when asked for (MoE), else None."""


def packed_target_logps(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    output_router_logits: bool = False,
    tile_tokens: int | None = None,
) -> TargetLogps:
    """Run a causal LM on a batch from `pad_bins` (input_ids, labels, position_ids, segment_ids)
    and return each target token's log-probability. Only the target positions are projected to
    the vocabulary ([N, V], not [B, T, V]); with `tile_tokens`, N is cut into tiles of that many
    whose [tile, V] logits are recomputed in the backward, so the whole [N, V] never exists.
    A sequence-parallel slice (`sequence_parallel.shard`) brings its own `targets`, shifted on the
    whole sequence: then the log-probs sit where each target is predicted."""
    implementation: str = _config(model)._attn_implementation or "eager"
    segment_ids = batch["segment_ids"]
    if "flash" in implementation or "targets" in batch:
        mask = None  # varlen flash finds examples from positions; Ulysses' attention runs them apart
    elif implementation in MASKED_IMPLEMENTATIONS and int(segment_ids.max()) <= 1:
        mask = None  # one example a row: transformers' causal path (sdpa: no [T, T] mask at all)
    elif implementation in MASKED_IMPLEMENTATIONS:
        mask = packed_causal_mask(segment_ids, _float_dtype(model))
    else:
        raise ArcticRayError(
            f"packed batches need attn_implementation sdpa, eager or flash_attention_2, not {implementation!r}"
        )
    # The decoder and the LM head run apart: asked for router logits, an MoE model's own forward
    # computes its aux loss from the attention mask, and fails on a 4D one.
    extra = {"output_router_logits": True} if output_router_logits else {}
    inner = _unwrapped(model)
    decoder = cast(torch.nn.Module, inner.get_decoder())
    out = decoder(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=mask, use_cache=False, **extra
    )
    head = cast(torch.nn.Module, inner.get_output_embeddings())
    if "targets" in batch:  # predicted here, the targets already shifted
        targets, hidden = batch["targets"], out.last_hidden_state
    else:
        targets, hidden = shifted_targets(batch["labels"], segment_ids), out.last_hidden_state[:, :-1]
    trained = targets != IGNORE_INDEX
    logps = target_logps(head, hidden[trained], targets[trained], tile_tokens)
    dense = torch.zeros(trained.shape, dtype=logps.dtype, device=logps.device).masked_scatter(trained, logps)
    if "targets" in batch:
        return TargetLogps(dense, trained, out.router_logits if output_router_logits else None)
    token_logps = F.pad(dense, (1, 0))  # target t+1 is predicted at position t: align with the token itself
    return TargetLogps(token_logps, F.pad(trained, (1, 0)), out.router_logits if output_router_logits else None)


def target_logps(
    head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, tile_tokens: int | None
) -> torch.Tensor:
    """[N]: log p(target) of each hidden state through the LM head, in tiles when asked."""
    if not tile_tokens or hidden.shape[0] <= tile_tokens:
        return _logps_of(head, hidden, targets)
    tiles = [
        checkpoint(_logps_of, head, hidden[i : i + tile_tokens], targets[i : i + tile_tokens], use_reentrant=False)
        for i in range(0, hidden.shape[0], tile_tokens)
    ]
    return torch.cat([t for t in tiles if isinstance(t, torch.Tensor)])


def _logps_of(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return head(hidden).float().log_softmax(-1).gather(1, targets[:, None])[:, 0]


def packed_loss(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    output_router_logits: bool = False,
    tile_tokens: int | None = None,
) -> PackedLoss:
    """The summed token cross-entropy of a packed batch, the number of target tokens, and (MoE,
    when asked) the router logits. Divide by the global batch's target tokens, not per micro-batch."""
    logps, target_mask, router_logits = packed_target_logps(model, batch, output_router_logits, tile_tokens)
    return PackedLoss(-logps.sum(), target_mask.sum(), router_logits)


def sequence_sums(
    values: torch.Tensor,
    target_mask: torch.Tensor,
    segment_ids: torch.Tensor,
    num_sequences: torch.Tensor | None = None,
) -> torch.Tensor:
    """[S]: `values` [B, T] summed over each sequence's target tokens, sequences in bin order (row
    by row, each row's segments 1..n), so a unit's sequences stay adjacent (a pair's chosen, then
    its rejected). Differentiable in `values`. `num_sequences` [B]: the rows' sequence counts when
    the tensors are a slice of the rows (sequence parallelism; then add the slices' sums up)."""
    per_row = segment_ids.max(dim=1).values if num_sequences is None else num_sequences
    offsets = torch.cumsum(per_row, 0) - per_row
    index = (offsets[:, None] + segment_ids - 1)[target_mask]
    total = int(per_row.sum())
    return torch.zeros(total, dtype=values.dtype, device=values.device).index_add(0, index, values[target_mask])


def _unwrapped(model: torch.nn.Module) -> PreTrainedModel:
    while not hasattr(model, "config") and hasattr(model, "module"):  # DeepSpeed / DDP wrappers
        model = cast(torch.nn.Module, model.module)
    return cast("PreTrainedModel", model)


def _config(model: torch.nn.Module) -> PretrainedConfig:
    return _unwrapped(model).config


def _float_dtype(model: torch.nn.Module) -> torch.dtype:
    return next(p.dtype for p in model.parameters() if p.is_floating_point())
