"""Sequence parallelism in the shared loop: Ulysses (DeepSpeed's `UlyssesSPAttentionHF`) splits
each micro-batch's sequence over the `sequence_parallel_size` ranks of a group, and an all-to-all
around attention gives each rank the whole sequence for its share of the heads.

The data: every rank reads its own shard of the Ray Dataset as without SP. The ranks of a group
pool their micro-batches (one all-gather), and the group then computes them one after another,
each rank holding its slice of the sequence: a step still takes `micro_batch_size x
gradient_accumulation_steps` rows on every rank (the global batch and an epoch are unchanged);
DeepSpeed takes `gradient_accumulation_steps x sequence_parallel_size` sub-steps a step. The
targets (and per-token float columns such as reference log-probs) are shifted on the whole
sequence before it is cut, so a slice's last token still learns the next slice's first. A loss
summed over tokens divides by the global batch's target tokens as without SP (each token lives on
one rank); per-sequence sums (DPO's log-probs) are added up over the group with a differentiable
all-reduce.

Packed rows keep their promise: DeepSpeed's wrapper drops 4D masks, so the attention it calls
after the all-to-all is ours (`packed_attention`), which runs each example of a row apart
(causal within it), found from the gathered position ids restarting at 0."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn import functional as F

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.data.chat import IGNORE_INDEX
from arctic_ray.train.deepspeed_config import without_shm_comm_build


class SequenceParallelError(ArcticRayError):
    pass


@dataclass
class SequenceParallel:
    size: int
    rank: int
    """This rank's place in its group (which slice of a sequence it holds)."""
    group: Any
    """The group's torch process group (None without SP)."""
    mpu: Any = None
    """DeepSpeed's parallel-state module, handed to `deepspeed.initialize`."""

    @property
    def enabled(self) -> bool:
        return self.size > 1


NO_SEQUENCE_PARALLEL = SequenceParallel(1, 0, None)


def check_model(size: int, model_config: Any, max_length: int) -> None:
    """Refuse, naming the recipe field, a model the group cannot split, or sequences beyond the
    model's positions."""
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    heads, kv_heads = text.num_attention_heads, getattr(text, "num_key_value_heads", text.num_attention_heads)
    if size > 1 and heads % size:
        raise SequenceParallelError(
            f"sequence_parallel_size: {size} does not divide the model's {heads} attention heads"
        )
    if size > 1 and kv_heads % size and size % kv_heads:
        raise SequenceParallelError(
            f"sequence_parallel_size: {size} and the model's {kv_heads} KV heads: one must divide the other"
        )
    positions = getattr(text, "max_position_embeddings", None)
    if positions and max_length > positions and not _rope_scaled(text):
        raise SequenceParallelError(
            f"data.max_length: {max_length} tokens are beyond the model's {positions} positions and it sets no "
            "rope_scaling; shorten the sequences or use a model (config) with RoPE scaling"
        )


def _rope_scaled(text_config: Any) -> bool:
    """Whether the config scales RoPE beyond its positions (transformers 5 always sets
    `rope_parameters`, with type `default` when nothing is scaled)."""
    rope = getattr(text_config, "rope_parameters", None) or getattr(text_config, "rope_scaling", None) or {}
    return rope.get("rope_type", rope.get("type", "default")) != "default"


def check_plan(train: Any, model: Any, max_length: int) -> None:
    """In the driver, once the plan has filled the worker count: the recipe `train` (a
    TrainConfig) on `model` (a ModelRef; only its config is read) splits as asked."""
    from transformers import AutoConfig

    size = train.sequence_parallel_size
    if train.workers.num_workers % size:  # a planned count bypasses the recipe's own validator
        raise SequenceParallelError(
            f"workers.num_workers: {train.workers.num_workers} is not a multiple of sequence_parallel_size {size}"
        )
    check_model(size, AutoConfig.from_pretrained(model.files()), max_length)


def layout(train: Any, max_length: int) -> dict:
    """How the recipe `train` (a TrainConfig) splits a sequence and saves memory: for the plan
    line, metrics.json and the report."""
    size = train.sequence_parallel_size
    return {
        "sequence_parallel_size": size,
        "groups": train.workers.num_workers // size,
        "tokens_per_rank": -(-max_length // size),
        "max_length": max_length,
        "tiled_mlp_compute": train.tiled_mlp_compute,
        "logits_tile_tokens": train.logits_tile_tokens,
        "gradient_checkpointing": train.gradient_checkpointing,
        "activation_checkpoint_cpu_offload": train.activation_checkpoint_cpu_offload,
    }


def describe(layout: dict) -> str:
    """One sentence of `layout`."""
    if layout["sequence_parallel_size"] == 1:
        split = f"each sequence (up to {layout['max_length']} tokens) on one rank"
    else:
        split = (
            f"each sequence split over a group of {layout['sequence_parallel_size']} consecutive ranks "
            f"({layout['groups']} group(s), on one node where it fits): up to {layout['tokens_per_rank']} "
            f"of its {layout['max_length']} tokens a rank, all heads' attention by all-to-all"
        )
    saving = [
        name
        for name, on in (
            ("tiled MLP", layout["tiled_mlp_compute"]),
            (f"logits in tiles of {layout['logits_tile_tokens']} tokens", layout["logits_tile_tokens"]),
            ("gradient checkpointing", layout["gradient_checkpointing"]),
            ("checkpoints offloaded to CPU", layout["activation_checkpoint_cpu_offload"]),
        )
        if on
    ]
    return split + (f"; {', '.join(saving)}" if saving else "")


def start(size: int, attn_implementation: str, micro_batch_size: int, model_path: str) -> SequenceParallel:
    """The groups (consecutive ranks: a group fits one node when the node holds that many
    workers), and Ulysses attention registered with transformers; before the model is built."""
    if size == 1:
        return NO_SEQUENCE_PARALLEL
    if attn_implementation != "sdpa":
        raise SequenceParallelError(
            f"model.attn_implementation: sequence parallelism runs packed rows with sdpa, not {attn_implementation}"
        )
    import deepspeed.comm
    from deepspeed.runtime.sequence_parallel.ulysses_sp import UlyssesSPAttentionHF
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    without_shm_comm_build()
    deepspeed.comm.init_distributed(dist_backend=dist.get_backend(), dist_init_required=False)
    ALL_ATTENTION_FUNCTIONS["sdpa"] = packed_attention  # what Ulysses calls after its all-to-all
    mpu = UlyssesSPAttentionHF.register_with_transformers(
        model_name_or_path=model_path,
        core_attn_implementation="sdpa",
        sequence_parallel_size=size,
        micro_batch_size=micro_batch_size,
        seq_length_is_variable=True,
    )
    assert mpu is not None  # size > 1: DeepSpeed made the groups
    return SequenceParallel(size, mpu.get_sequence_parallel_rank(), mpu.get_sequence_parallel_group(), mpu)


def packed_attention(module, query, key, value, attention_mask, position_ids=None, **kwargs):
    """sdpa over a packed row, each example apart and causal within it, the examples found where
    `position_ids` restart at 0 (padding: one example per token, attending to itself). Query and
    key [B, H, T, D]; returns [B, T, H, D] as transformers' attention functions do."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if position_ids is None:
        raise SequenceParallelError("packed attention needs position_ids")
    kwargs.pop("is_causal", None)
    rows = []
    for b in range(query.shape[0]):
        starts = torch.nonzero(position_ids[b] == 0).flatten().tolist() + [query.shape[2]]
        parts = []
        for s, e in zip(starts[:-1], starts[1:], strict=True):
            out, _ = sdpa_attention_forward(
                module,
                query[b : b + 1, :, s:e],
                key[b : b + 1, :, s:e],
                value[b : b + 1, :, s:e],
                None,
                is_causal=True,
                **kwargs,
            )
            parts.append(out)
        rows.append(torch.cat(parts, dim=1))
    return torch.cat(rows, dim=0), None


def group_shards(
    sp: SequenceParallel, batch: dict[str, torch.Tensor], float_columns: tuple[str, ...] = ()
) -> list[dict]:
    """The group's micro-batches (this rank's `batch` and the others'), each as this rank's slice:
    [B, T / size] tensors, with `targets` (the token each position predicts, shifted on the whole
    sequence) and the float columns shifted alike, and `num_sequences` [B] of the whole rows."""
    widths = _gather_ints(sp, batch["input_ids"].shape[1])
    batches = []
    for source, width in enumerate(widths):
        batches.append({k: _broadcast(sp, source, v, width) for k, v in batch.items()})
    return [shard(sp, b, float_columns) for b in batches]


def shard(sp: SequenceParallel, batch: dict[str, torch.Tensor], float_columns: tuple[str, ...] = ()) -> dict:
    """This rank's slice of one whole micro-batch (every rank of the group holds the same one)."""
    width = batch["input_ids"].shape[1]
    padded = -(-width // sp.size) * sp.size  # a multiple of the group: each rank an equal slice
    batch = {k: _pad_right(k, v, padded - width) for k, v in batch.items()}
    segments, labels = batch["segment_ids"], batch["labels"]
    same = (segments[:, 1:] == segments[:, :-1]) & (segments[:, 1:] > 0)
    targets = torch.where(same, labels[:, 1:], torch.full_like(labels[:, 1:], IGNORE_INDEX))
    out = {k: v for k, v in batch.items() if k not in float_columns}
    out["targets"] = F.pad(targets, (0, 1), value=IGNORE_INDEX)
    for column in float_columns:  # a per-token value of token t+1, read where t predicts it
        out[column] = F.pad(batch[column][:, 1:], (0, 1))
    out["num_sequences"] = segments.max(dim=1).values
    chunk = padded // sp.size
    return {k: v if k == "num_sequences" else v[:, sp.rank * chunk : (sp.rank + 1) * chunk] for k, v in out.items()}


def _pad_right(key: str, value: torch.Tensor, n: int) -> torch.Tensor:
    if n == 0:
        return value
    fill = IGNORE_INDEX if key == "labels" else 0  # position 0, segment 0: padding, as pad_bins makes it
    return F.pad(value, (0, n), value=fill)


def _gather_ints(sp: SequenceParallel, value: int) -> list[int]:
    mine = torch.tensor([value], dtype=torch.int64)
    everyone = [torch.zeros(1, dtype=torch.int64) for _ in range(sp.size)]
    dist.all_gather(everyone, mine, group=sp.group)
    return [int(x.item()) for x in everyone]


def _broadcast(sp: SequenceParallel, source: int, value: torch.Tensor, width: int) -> torch.Tensor:
    """The group member `source`'s tensor (width `width`), on every rank of the group."""
    if sp.rank == source:
        out = value.contiguous()
    else:
        out = torch.empty((value.shape[0], width, *value.shape[2:]), dtype=value.dtype, device=value.device)
    dist.broadcast(out, src=dist.get_global_rank(sp.group, source), group=sp.group)
    return out


def sum_over_group(sp: SequenceParallel, value: torch.Tensor) -> torch.Tensor:
    """`value` summed over the group, differentiably (each rank's gradient flows to its own part)."""
    if not sp.enabled:
        return value
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(value, group=sp.group)


def tile_mlps(model: torch.nn.Module) -> int:
    """Every decoder layer's MLP computed in sequence tiles (DeepSpeed's `TiledMLP`: the
    intermediate activations of one tile at a time, recomputed in the backward); how many."""
    import math

    from deepspeed.runtime.sequence_parallel.ulysses_sp import TiledMLP

    def tiled_forward(self, x):
        shards = max(1, math.ceil(x.shape[1] / x.shape[2]))  # tiles of about hidden-size tokens, as ALST
        params = [p for p in self.parameters() if p.requires_grad]
        return TiledMLP.apply(type(self).forward, self, x, shards, params)

    tiled = 0
    for module in model.modules():
        if type(module).__name__.endswith("MLP") and hasattr(module, "down_proj"):
            module.forward = types.MethodType(tiled_forward, module)
            tiled += 1
    return tiled
