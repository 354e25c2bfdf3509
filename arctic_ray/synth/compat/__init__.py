"""ArcticTraining's synth API (0.8.0) for people who know it: the same classes, constructor and
method keywords and response shapes, running on arctic_ray's backends behind the generation store.
Each class is imported on first use, so naming one loads only its backend."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers; at run time `__getattr__` imports each on first use
    from arctic_ray.synth.compat.azure_openai_synth import AzureOpenAISynth
    from arctic_ray.synth.compat.cortex_synth import CortexSynth
    from arctic_ray.synth.compat.multi_replica_vllm_synth import MultiReplicaVllmSynth
    from arctic_ray.synth.compat.openai_synth import OpenAISynth
    from arctic_ray.synth.compat.vllm_synth import VllmSynth

CLASSES = {
    "OpenAISynth": "openai_synth",
    "AzureOpenAISynth": "azure_openai_synth",
    "VllmSynth": "vllm_synth",
    "CortexSynth": "cortex_synth",
    "MultiReplicaVllmSynth": "multi_replica_vllm_synth",
}

__all__ = ["OpenAISynth", "AzureOpenAISynth", "VllmSynth", "CortexSynth", "MultiReplicaVllmSynth"]  # CLASSES' keys


def __getattr__(name: str):
    if name in CLASSES:
        return getattr(import_module(f"{__name__}.{CLASSES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
