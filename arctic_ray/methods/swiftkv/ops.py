"""The pieces of a Llama layer that SwiftKV recombines, written over the Hugging Face modules'
own weights so the student, the cached inference path and the export all use one set of
parameters: heads split and rotated, attention over given keys and values, a standard layer
(its own q/k/v), and a SwiftKV layer (its own query, keys and values handed in)."""

from __future__ import annotations

import torch
from torch.nn import functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


def heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[B, T, n*d] -> [B, n, T, d]."""
    b, t, _ = x.shape
    return x.view(b, t, -1, head_dim).transpose(1, 2)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on one [B, n, T, d] tensor (HF's function rotates a pair; the other half is unused)."""
    return apply_rotary_pos_emb(x, x, cos, sin)[0]


def attend(
    attn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, causal: bool
) -> torch.Tensor:
    """Attention of q [B, H, Tq, d] over k, v [B, Hkv, S, d] (grouped-query), then o_proj.
    `mask`: additive [B, 1, Tq, S]; None with `causal`: the usual causal mask; None without it:
    every query sees every key (one new token over a cache)."""
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal and mask is None, scale=attn.scaling, enable_gqa=True
    )
    b, _, t, _ = out.shape
    return attn.o_proj(out.transpose(1, 2).reshape(b, t, -1))


def own_kv(attn, x: torch.Tensor, cos, sin) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A standard layer's q, k, v from its normed input (q and k rotated)."""
    d = attn.head_dim
    return (
        rotate(heads(attn.q_proj(x), d), cos, sin),
        rotate(heads(attn.k_proj(x), d), cos, sin),
        heads(attn.v_proj(x), d),
    )


def swiftkv_kv(attn, normed: torch.Tensor, cos, sin) -> tuple[torch.Tensor, torch.Tensor]:
    """A SwiftKV layer's (or group's) k, v from `norm_swiftkv` of the last KV layer's output."""
    d = attn.head_dim
    return rotate(heads(attn.k_proj_swiftkv(normed), d), cos, sin), heads(attn.v_proj_swiftkv(normed), d)


def mlp_block(layer, h: torch.Tensor) -> torch.Tensor:
    return h + layer.mlp(layer.post_attention_layernorm(h))


def swiftkv_layer(
    layer, h: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cos, sin, mask, causal: bool
) -> torch.Tensor:
    """A later layer: its query from its own input (`q_proj_swiftkv`), keys and values given."""
    attn = layer.self_attn
    q = rotate(heads(attn.q_proj_swiftkv(layer.input_layernorm(h)), attn.head_dim), cos, sin)
    return mlp_block(layer, h + attend(attn, q, k, v, mask, causal))
