"""The SwiftKV model over a Hugging Face Llama: the first `num_key_value_layers` layers are the
base's; every later layer keeps its MLP, norms and o_proj but takes a new query projection
(`q_proj_swiftkv`) and its keys and values from `k_proj_swiftkv`/`v_proj_swiftkv` applied to
`norm_swiftkv` of the last KV layer's output (SingleInputKV); with AcrossKV a group of
`key_value_group_size` consecutive later layers shares the first one's k/v projections.

The new modules hang on the HF modules themselves, so their names are the ones Arctic
Inference loads (`model.layers.N.self_attn.q_proj_swiftkv`, `model.norm_swiftkv`). They start as
copies of what they replace, so before training the student differs from the teacher only in
where its later layers' KV comes from: q from q_proj, k/v from the group's k_proj/v_proj
averaged, norm_swiftkv from the first SwiftKV layer's input norm. Everything else is frozen,
and the teacher is the same module with its later layers run as the base runs them: one copy
of the weights, and the frozen first layers run once for both."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import torch
from torch import nn
from transformers.models.llama.configuration_llama import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRMSNorm

from arctic_ray.methods.swiftkv.ops import swiftkv_kv, swiftkv_layer

SWIFTKV_NAMES = ("q_proj_swiftkv", "k_proj_swiftkv", "v_proj_swiftkv", "norm_swiftkv")


class SwiftKVOutput(NamedTuple):
    student: torch.Tensor
    """The student's final hidden states (after the final norm) [B, T, H]."""
    teacher: torch.Tensor | None
    """The base model's, when asked for."""


class SwiftKVModel(nn.Module):
    def __init__(
        self, base: nn.Module, num_key_value_layers: int, key_value_group_size: int = 1, keep_teacher: bool = True
    ):
        """`keep_teacher=False` (a reloaded export): the later layers' own q/k/v projections,
        which only the teacher uses, are dropped."""
        super().__init__()
        cfg = cast(LlamaConfig, base.config)
        self.base, self.num_key_value_layers, self.group_size = base, num_key_value_layers, key_value_group_size
        self.num_layers = cfg.num_hidden_layers
        self.has_teacher = keep_teacher
        bias = bool(getattr(cfg, "attention_bias", False))
        for i in self.swiftkv_layers:
            attn: Any = self.layers[i].self_attn  # the SwiftKV projections are plain attributes on it
            attn.q_proj_swiftkv = nn.Linear(cfg.hidden_size, attn.q_proj.out_features, bias=bias)
            if self.owner(i) == i:
                attn.k_proj_swiftkv = nn.Linear(cfg.hidden_size, attn.k_proj.out_features, bias=bias)
                attn.v_proj_swiftkv = nn.Linear(cfg.hidden_size, attn.v_proj.out_features, bias=bias)
        self.decoder.norm_swiftkv = LlamaRMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        dtype = next(base.parameters()).dtype
        base.to(dtype)
        if not keep_teacher:
            for i in self.swiftkv_layers:
                for name in ("q_proj", "k_proj", "v_proj"):
                    delattr(self.layers[i].self_attn, name)

    @property
    def decoder(self) -> Any:
        """The base's HF decoder (`base.model`); Any, as `norm_swiftkv` is a plain attribute on it."""
        return self.base.model

    @property
    def layers(self) -> nn.ModuleList:
        return self.decoder.layers

    @property
    def swiftkv_layers(self) -> range:
        return range(self.num_key_value_layers, self.num_layers)

    def owner(self, i: int) -> int:
        """The later layer whose k/v projections layer `i` uses (itself without AcrossKV)."""
        k, g = self.num_key_value_layers, self.group_size
        return k + (i - k) // g * g

    def group(self, owner: int) -> range:
        return range(owner, min(owner + self.group_size, self.num_layers))

    @torch.no_grad()
    def init_from_teacher(self) -> None:
        for i in self.swiftkv_layers:
            attn: Any = self.layers[i].self_attn
            attn.q_proj_swiftkv.load_state_dict(attn.q_proj.state_dict())
            if self.owner(i) == i:
                for name in ("k_proj", "v_proj"):
                    members = [getattr(self.layers[j].self_attn, name) for j in self.group(i)]
                    target = getattr(attn, f"{name}_swiftkv")
                    target.weight.copy_(torch.stack([m.weight for m in members]).mean(0))
                    if target.bias is not None:
                        target.bias.copy_(torch.stack([m.bias for m in members]).mean(0))
        if self.num_key_value_layers < self.num_layers:
            first = cast(LlamaDecoderLayer, self.layers[self.num_key_value_layers])
            self.decoder.norm_swiftkv.weight.copy_(first.input_layernorm.weight)

    def freeze_all_but_swiftkv(self) -> dict[str, int]:
        """Only the SwiftKV modules train; returns the parameter counts."""
        for name, p in self.named_parameters():
            p.requires_grad = any(f".{n}." in name for n in SWIFTKV_NAMES)
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"trainable": trainable, "frozen": total - trainable, "total": total}

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        teacher: bool = False,
    ) -> SwiftKVOutput:
        """Every token through the student (and the teacher when asked), as in training:
        `attention_mask` is additive [B, 1, T, T] (None: causal)."""
        m = self.decoder
        h = m.embed_tokens(input_ids)
        cos, sin = m.rotary_emb(h, position_ids)
        causal = attention_mask is None
        for layer in self.layers[: self.num_key_value_layers]:
            h = layer(h, attention_mask=attention_mask, position_embeddings=(cos, sin), position_ids=position_ids)
        taught = None
        if teacher:
            if not self.has_teacher:
                raise ValueError("this SwiftKV model was loaded without the teacher's projections")
            with torch.no_grad():
                t = h
                for layer in self.layers[self.num_key_value_layers :]:
                    t = layer(
                        t, attention_mask=attention_mask, position_embeddings=(cos, sin), position_ids=position_ids
                    )
                taught = m.norm(t)
        if self.num_key_value_layers < self.num_layers:  # (else there is no SwiftKV layer)
            normed = m.norm_swiftkv(h)
            kv: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
            for i in self.swiftkv_layers:
                o = self.owner(i)
                if o not in kv:
                    kv[o] = swiftkv_kv(self.layers[o].self_attn, normed, cos, sin)
                h = swiftkv_layer(self.layers[i], h, *kv[o], cos, sin, attention_mask, causal)
        return SwiftKVOutput(m.norm(h), taught)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return cast(nn.Module, self.base.lm_head)(hidden)
