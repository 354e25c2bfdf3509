"""Synthesis: generation backends behind one row schema and the generation store, and
ArcticTraining's synth API (`OpenAISynth`, `AzureOpenAISynth`, `VllmSynth`, `CortexSynth`),
loaded on first use so `import arctic_ray.synth` stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers; at run time `__getattr__` loads them
    from arctic_ray.synth.compat import AzureOpenAISynth, CortexSynth, MultiReplicaVllmSynth, OpenAISynth, VllmSynth

__all__ = ["OpenAISynth", "AzureOpenAISynth", "VllmSynth", "CortexSynth", "MultiReplicaVllmSynth"]

ARCTIC_API = tuple(__all__)


def __getattr__(name: str):
    if name in ARCTIC_API:
        from arctic_ray.synth import compat

        return getattr(compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
