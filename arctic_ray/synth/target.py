"""The `Target` of a generation: what a backend loads or asks for, and the model's identity in
store keys. A backend that loads weights itself (`SynthConfig.loads_weights`: vLLM) is given the
model's name and its content identity (`models/identity.py`), and resolves the name on the node it
runs on (`models/resolve.checked_model`); an API model is keyed by its name."""

from __future__ import annotations

from arctic_ray.models.identity import model_identity
from arctic_ray.models.resolve import model_files
from arctic_ray.synth.backend import SynthConfig, Target


def target_for(model: str, synth: SynthConfig, store: str, run_dir: str | None = None) -> Target:
    if synth.loads_weights:
        return Target(model, model, model_identity(model_files(model), model)["store_key"], store, run_dir)
    return Target(model, model, model, store, run_dir)
