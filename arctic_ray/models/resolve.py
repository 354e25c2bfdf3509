"""Turn a recipe's `model:` into a local path: registered built-in models are built or converted
on first use; anything else (an HF name or a local directory) is passed through as is."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.models.smollm2 import NAME as SMOLLM2, smollm2_path
from arctic_ray.models.tiny import tiny_model_path
from arctic_ray.models.tiny_moe import NAME as TINY_MOE, tiny_moe_path
from arctic_ray.models.tiny_reward import NAME as TINY_REWARD, tiny_reward_model_path
from arctic_ray.core.registry import lookup, names, register

register("model", "tiny", tiny_model_path)
register("model", "tiny2", lambda: tiny_model_path(num_layers=2))
register("model", SMOLLM2, smollm2_path)
register("model", TINY_REWARD, tiny_reward_model_path)
register("model", TINY_MOE, tiny_moe_path)


def builtin_models() -> list[str]:
    return names("model")


def resolve_model(name: str) -> str:
    if name in builtin_models():
        return str(lookup("model", name)())
    if Path(name).exists() and not (Path(name) / "config.json").is_file():
        raise FileNotFoundError(f"model path {name} has no config.json: not a Hugging Face model")
    return name
