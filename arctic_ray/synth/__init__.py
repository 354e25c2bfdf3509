"""Synthesis: generation backends behind one row schema and the generation store, and
ArcticTraining's synth API (`OpenAISynth`, `AzureOpenAISynth`, `VllmSynth`, `CortexSynth`),
loaded on first use so `import arctic_ray.synth` stays light."""

from __future__ import annotations

ARCTIC_API = ("OpenAISynth", "AzureOpenAISynth", "VllmSynth", "CortexSynth", "MultiReplicaVllmSynth")

__all__ = list(ARCTIC_API)


def __getattr__(name: str):
    if name in ARCTIC_API:
        from arctic_ray.synth import compat

        return getattr(compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
