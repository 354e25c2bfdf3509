"""Generation with a KV cache that does what SwiftKV promises, as Arctic Inference does it:
a prompt's tokens run only the first `num_key_value_layers` layers; the later layers' keys and
values for those tokens are projected from `norm_swiftkv` of that output (one k/v projection per
AcrossKV group, which is also all the cache holds for the group); the later layers then run for
the one position whose logits are needed. A decoded token runs every layer: the KV layers as
usual, the later ones with their KV projected the same way.

`swiftkv=False` runs the same code as the original model (every layer's own KV for every
prompt token), so a comparison measures SwiftKV and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from arctic_ray.methods.swiftkv.model import SwiftKVModel
from arctic_ray.methods.swiftkv.ops import attend, mlp_block, own_kv, swiftkv_kv, swiftkv_layer


@dataclass
class KVCache:
    layers: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    """Cache slot (a KV layer, or the owner of an AcrossKV group) -> [k, v], each [B, Hkv, S, d]."""

    def extend(self, slot: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if slot in self.layers:
            old_k, old_v = self.layers[slot]
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.layers[slot] = [k, v]
        return k, v

    @property
    def length(self) -> int:
        return next(iter(self.layers.values()))[0].shape[2] if self.layers else 0

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for kv in self.layers.values() for t in kv)


class CachedDecoder:
    def __init__(self, model: SwiftKVModel, swiftkv: bool = True):
        if not swiftkv and not model.has_teacher:
            raise ValueError(
                "the original model's path needs the later layers' own projections "
                "(a model built with keep_teacher=True)"
            )
        self.model, self.swiftkv = model, swiftkv
        self.kv_layers = model.num_key_value_layers if swiftkv else model.num_layers

    def _standard(self, layer, h, cache: KVCache, slot: int, cos, sin, causal: bool) -> torch.Tensor:
        q, k, v = own_kv(layer.self_attn, layer.input_layernorm(h), cos, sin)
        k, v = cache.extend(slot, k, v)
        return mlp_block(layer, h + attend(layer.self_attn, q, k, v, None, causal))

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits [B, V] of the last position of `input_ids` [B, T], which follow the cache's
        tokens; the cache grows by T. T > 1 is a prefill (only the last position goes past the
        KV layers); T == 1 a decode step."""
        m = self.model.decoder
        start = cache.length
        positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device)[None].expand(
            input_ids.shape[0], -1
        )
        h = m.embed_tokens(input_ids)
        cos, sin = m.rotary_emb(h, positions)
        causal = input_ids.shape[1] > 1
        if causal and start:
            raise ValueError("a prefill starts from an empty cache")
        for i in range(self.kv_layers):
            h = self._standard(self.model.layers[i], h, cache, i, cos, sin, causal)
        if self.kv_layers < self.model.num_layers:
            normed = m.norm_swiftkv(h)
            for o in sorted({self.model.owner(i) for i in range(self.kv_layers, self.model.num_layers)}):
                cache.extend(o, *swiftkv_kv(self.model.layers[o].self_attn, normed, cos, sin))
            h, cos, sin = h[:, -1:], cos[:, -1:], sin[:, -1:]  # the later layers: the last position only
            for i in range(self.kv_layers, self.model.num_layers):
                k, v = cache.layers[self.model.owner(i)]
                h = swiftkv_layer(self.model.layers[i], h, k, v, cos, sin, None, False)
        return self.model.logits(m.norm(h[:, -1]))

    def generate(self, prompt_ids: list[int], max_new_tokens: int, eos_id: int | None = None) -> list[int]:
        """Greedy continuation of one prompt."""
        device = next(self.model.parameters()).device
        cache, out = KVCache(), []
        logits = self.forward(torch.tensor([prompt_ids], device=device), cache)
        for _ in range(max_new_tokens):
            token = int(logits[0].argmax())
            out.append(token)
            if token == eos_id or len(out) == max_new_tokens:
                break
            logits = self.forward(torch.tensor([[token]], device=device), cache)
        return out
