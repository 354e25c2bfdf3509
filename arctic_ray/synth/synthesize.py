"""One call from request rows to answered rows, for jobs and for the ArcticTraining-style API:
refuse malformed requests, expand `samples` per prompt, answer from the store what it has, send
the rest through the backend, and keep every row: answered, or failed with its reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import ray.data

from arctic_ray.data.driver_rows import dataset_of
from arctic_ray.data.sample_ids import nth
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.keyed import StoredGeneration, generate_stored
from arctic_ray.synth.schema import split_requests


@dataclass
class Synthesis:
    generation: StoredGeneration | None
    refused: list[dict]
    """Requests never sent, each with `reason`."""

    @property
    def rows(self) -> ray.data.Dataset | None:
        return self.generation.rows if self.generation else None


@dataclass
class Tally:
    """The summary a run prints: ok / failed / from store / sent / tokens / spend."""

    ok: int = 0
    failed: int = 0
    refused: int = 0
    from_store: int = 0
    sent: int = 0
    resent_after_crash: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    spend_usd: float = 0.0
    errors: dict = field(default_factory=dict)

    def add(self, row: dict, synth: SynthConfig, from_store: bool) -> None:
        if row.get("error"):
            self.failed += 1
            kind = str(row["error"]).split(":")[0][:60]
            self.errors[kind] = self.errors.get(kind, 0) + 1
            return
        self.ok += 1
        if from_store:
            return  # paid for on an earlier run
        usage = row.get("usage") or {}
        p, c = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self.prompt_tokens += p
        self.completion_tokens += c
        self.spend_usd += synth.pricing.cost(p, c)

    def as_dict(self) -> dict:
        return {**self.__dict__, "spend_usd": round(self.spend_usd, 6)}


def expand_samples(rows: Iterable[dict], samples: int) -> list[dict]:
    """n samples of one prompt: n rows with `sample` 0..n-1 (each its own store key when sampling)."""
    if samples == 1:
        return list(rows)
    return [nth(r, i) for r in rows for i in range(samples)]


def synthesize(rows: Iterable[dict], synth: SynthConfig, target: Target, samples: int = 1) -> Synthesis:
    ok, refused = split_requests(rows)
    ok = expand_samples(ok, samples)
    generation = generate_stored(dataset_of(ok), synth, target) if ok else None
    return Synthesis(generation=generation, refused=refused)
