"""A model for long-sequence training on a laptop: SmolLM2's tokenizer, vocabulary and width
(576), but 8 attention heads and 2 KV heads (SmolLM2-135M has 9 and 3, which sequence
parallelism over 2 ranks cannot split), 4 layers, and 128K positions (SmolLM2's RoPE, theta
100K). Random weights from a seed: it trains and uses memory like a real model of its shape, and
its answers mean nothing. Built once per node from the SmolLM2 conversion."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.models.cache import built_once
from arctic_ray.models.smollm2 import smollm2_path

NAME = "smollm2-long"
HEADS, KV_HEADS, LAYERS, POSITIONS = 8, 2, 4, 131072


def build_smollm2_long(path: Path, seed: int = 0) -> None:
    import torch
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig, LlamaForCausalLM

    base = smollm2_path()
    config = AutoConfig.from_pretrained(base)
    config.num_attention_heads, config.num_key_value_heads = HEADS, KV_HEADS
    config.head_dim = config.hidden_size // HEADS
    config.num_hidden_layers = LAYERS
    config.max_position_embeddings = POSITIONS
    config.dtype = "float32"
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig.from_pretrained(base)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(base).save_pretrained(path)


def smollm2_long_path(seed: int = 0) -> Path:
    return built_once(
        f"{NAME}-s{seed}",
        lambda path: build_smollm2_long(path, seed),
        builder=NAME,
        heads=HEADS,
        kv_heads=KV_HEADS,
        layers=LAYERS,
        positions=POSITIONS,
        seed=seed,
    )
