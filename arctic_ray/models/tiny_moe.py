"""A tiny Mixture-of-Experts causal LM for tests and laptop runs: transformers' own Qwen2-MoE
(top-k routing, a sigmoid-gated shared dense expert beside the routed ones, in the spirit of
Arctic's dense + MoE hybrid), built from a config, no remote code. The tiny models' tokenizer and
ChatML template, seeded random weights."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from arctic_ray.models.cache import built_once
from arctic_ray.models.tiny import tiny_tokenizer

NAME = "tiny-moe"


def build_tiny_moe_model(
    path: str | Path,
    *,
    num_layers: int = 4,
    num_experts: int = 8,
    top_k: int = 2,
    sparse_step: int = 2,
    hidden_size: int = 64,
    num_heads: int = 2,
    num_kv_heads: int = 1,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny Qwen2-MoE (weights, config, tokenizer, chat template) to `path`.

    Layer i is a sparse MoE block when (i + 1) % sparse_step == 0 (Qwen2-MoE's
    `decoder_sparse_step`), a dense MLP otherwise: num_layers // sparse_step MoE layers."""
    import torch
    from transformers import GenerationConfig, Qwen2MoeConfig, Qwen2MoeForCausalLM

    if not 1 <= top_k <= num_experts:
        raise ValueError(f"top_k must be in 1..num_experts ({num_experts}), got {top_k}")
    if num_layers // sparse_step < 1:
        raise ValueError(f"sparse_step {sparse_step} leaves no MoE layer among {num_layers}")
    path = Path(path)
    tokenizer = tiny_tokenizer()
    config = Qwen2MoeConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,  # head size 32: vLLM's CPU attention rejects 16
        num_key_value_heads=num_kv_heads,
        intermediate_size=hidden_size * 4,  # the dense layers' MLP
        moe_intermediate_size=hidden_size // 2,  # each routed expert: small, there are many
        shared_expert_intermediate_size=hidden_size * 2,
        num_experts=num_experts,
        num_experts_per_tok=top_k,
        decoder_sparse_step=sparse_step,
        mlp_only_layers=[],
        max_position_embeddings=max_positions,
        bos_token_id=cast(int, tokenizer.bos_token_id),
        eos_token_id=cast(int, tokenizer.eos_token_id),
        pad_token_id=cast(int, tokenizer.pad_token_id),
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2MoeForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_moe_path(
    num_layers: int = 4, num_experts: int = 8, top_k: int = 2, sparse_step: int = 2, seed: int = 0
) -> Path:
    """A cached tiny MoE model, built on first use. Defaults: 4 layers, MoE on layers 1 and 3,
    8 experts, top-2."""
    meta = dict(num_layers=num_layers, num_experts=num_experts, top_k=top_k, sparse_step=sparse_step, seed=seed)

    def build(path: Path) -> None:
        build_tiny_moe_model(path, **meta)

    return built_once(
        f"tiny-moe-l{num_layers}-e{num_experts}-k{top_k}-step{sparse_step}-s{seed}", build, builder=NAME, **meta
    )
