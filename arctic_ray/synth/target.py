"""The `Target` of a generation: what a backend loads or asks for, and the model's identity in
store keys. A backend that loads weights itself (`SynthConfig.loads_weights`: vLLM) gets the
model resolved and keyed by its content (`models/identity.py`); an API model is keyed by name."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.models.identity import model_identity
from arctic_ray.models.resolve import resolve_model
from arctic_ray.synth.backend import SynthConfig, Target


def target_for(model: str, synth: SynthConfig, store: str, run_dir: str | None = None) -> Target:
    if synth.loads_weights:
        path = resolve_model(model)
        if (Path(path) / "config.json").is_file():
            return Target(path, model, model_identity(path, model)["store_key"], store, run_dir)
    return Target(model, model, model, store, run_dir)  # an API model, or a hub name the engine fetches itself
