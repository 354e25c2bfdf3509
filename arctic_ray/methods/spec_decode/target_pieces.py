"""The pieces of the target a drafter trainer holds when the inference engine computes the
target's hidden states: its token embeddings and, once the drafter is built, only the rows of
its LM head that the drafter's vocabulary needs. Read tensor by tensor from the checkpoint's
safetensors files (memory-mapped), never the decoder layers, so a worker's memory is the
drafter's, whatever the target's size.

`FrozenBase` (the whole model, for bases the engine cannot serve) offers the same interface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import torch
from torch import nn

if TYPE_CHECKING:
    from transformers import PretrainedConfig


class Weighted(Protocol):
    """A module read only for its weight (an LM head, a norm)."""

    weight: torch.Tensor


class TargetView:
    """What drafters read from the target: `config`, `hidden_size`, `embed`, `lm_head` (until
    `keep_head_rows`), `split`, `logits`, and `layer_state`/`final_norm` for initialisation."""

    config: PretrainedConfig
    embed: nn.Embedding
    lm_head: Weighted | None
    head_ids: torch.Tensor | None = None
    head_rows: torch.Tensor | None = None

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the chosen layers' states [B, T, n*H], the final normed state [B, T, H])."""
        return features[..., : -self.hidden_size], features[..., -self.hidden_size :]

    def keep_head_rows(self, ids: torch.Tensor | None) -> None:
        """Keep only LM-head rows `ids` (None: the whole head stays)."""
        if ids is None:
            return
        assert self.lm_head is not None  # runs once, while the whole head is held
        self.head_ids = ids.to(self.embed.weight.device)
        self.head_rows = self.lm_head.weight[self.head_ids].detach().clone()

    def logits(self, hidden: torch.Tensor, vocab_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The target's logits from its final hidden state, over `vocab_ids` only when given."""
        if (
            vocab_ids is not None
            and self.head_ids is not None
            and self.head_rows is not None  # set together with head_ids
            and torch.equal(vocab_ids, self.head_ids)
        ):
            weight = self.head_rows
        elif self.lm_head is None:
            raise ValueError("only the draft vocabulary's LM-head rows are held")
        else:
            weight = self.lm_head.weight if vocab_ids is None else self.lm_head.weight[vocab_ids]
        return hidden.to(weight.dtype) @ weight.T


class TargetPieces(TargetView):
    def __init__(self, model_path: str, device: torch.device, dtype: torch.dtype = torch.float32):
        from transformers import AutoConfig

        self.path = Path(model_path)
        self.config = AutoConfig.from_pretrained(model_path)
        self.device, self.dtype = device, dtype
        self._where = _tensor_files(self.path)
        self.embed = nn.Embedding.from_pretrained(
            self._tensor(_one_named(self._where, "embed_tokens.weight")), freeze=True
        )
        head = [n for n in self._where if n.endswith("lm_head.weight")]
        if head:
            holder = nn.Module()
            holder.weight = nn.Parameter(self._tensor(head[0]), requires_grad=False)
            self.lm_head = cast(Weighted, holder)
        else:
            self.lm_head = self.embed  # a tied head is the embedding itself: nothing more to hold

    def keep_head_rows(self, ids):
        super().keep_head_rows(ids)
        if ids is not None and self.lm_head is not self.embed:
            self.lm_head = None  # the rest of an untied head is not needed again

    def _tensor(self, name: str) -> torch.Tensor:
        from safetensors import safe_open

        with safe_open(str(self._where[name]), framework="pt") as f:
            return f.get_tensor(name).to(self.device, self.dtype)

    def layer_state(self, index: int) -> dict[str, torch.Tensor]:
        """Decoder layer `index`'s tensors, HF names without the layer prefix (read, not held)."""
        prefix = next(
            n[: n.index(f"layers.{index}.") + len(f"layers.{index}.")] for n in self._where if f"layers.{index}." in n
        )
        return {n[len(prefix) :]: self._tensor(n) for n in self._where if n.startswith(prefix)}

    def final_norm(self) -> torch.Tensor:
        return self._tensor(_one_named(self._where, "model.norm.weight"))

    def held(self) -> dict[str, int]:
        """Elements held per tensor: what a worker keeps of the target."""
        out = {"embed_tokens": self.embed.weight.numel()}
        if self.head_rows is not None:
            out["lm_head_rows"] = self.head_rows.numel()
        if self.lm_head is not None and self.lm_head is not self.embed:
            out["lm_head"] = self.lm_head.weight.numel()
        return out

    def total_params(self) -> int:
        from safetensors import safe_open

        total = 0
        for file in set(self._where.values()):
            with safe_open(str(file), framework="pt") as f:
                total += sum(_numel(f.get_slice(n).get_shape()) for n in f.keys())
        return total


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _one_named(where: dict, suffix: str) -> str:
    names = [n for n in where if n.endswith(suffix)]
    if len(names) != 1:
        raise ValueError(f"expected one tensor named *{suffix} in the checkpoint, found {names}")
    return names[0]


def _tensor_files(path: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it (one file, or a sharded index)."""
    index = path / "model.safetensors.index.json"
    if index.exists():
        return {name: path / file for name, file in json.loads(index.read_text())["weight_map"].items()}
    single = path / "model.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"{path}: no safetensors weights (the engine-features path reads tensors one by one)")
    from safetensors import safe_open

    with safe_open(str(single), framework="pt") as f:
        return {name: single for name in f.keys()}
