"""A tiny Llama reward model (`LlamaForSequenceClassification`, one label) for tests and laptop
runs: the tiny models' tokenizer and ChatML template, seeded random weights. Its scores mean
nothing, but they are deterministic and of order 1, so a wrong score position shows."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.models.cache import built_once
from arctic_ray.models.tiny import tiny_llama_config, tiny_tokenizer

NAME = "tiny-reward"


def build_tiny_reward_model(
    path: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    num_kv_heads: int = 1,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny reward model (weights, config with `pad_token_id`, tokenizer) to `path`."""
    import torch
    from transformers import LlamaForSequenceClassification

    path = Path(path)
    tokenizer = tiny_tokenizer()
    # pad_token_id is set there: the classifier finds each row's last token by it
    config = tiny_llama_config(
        tokenizer,
        hidden_size,
        num_layers,
        num_heads,
        num_kv_heads,
        max_positions,
        num_labels=1,
        initializer_range=0.1,  # at the default 0.02 the last token's embedding drowns its context: all scores alike
    )
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_reward_model_path(num_layers: int = 2, seed: int = 0) -> Path:
    """A cached tiny reward model, built on first use."""

    def build(path: Path) -> None:
        build_tiny_reward_model(path, num_layers=num_layers, seed=seed)

    return built_once(f"tiny-reward-l{num_layers}-s{seed}", build, builder=NAME, num_layers=num_layers, seed=seed)
