"""The target's hidden states captured while the teacher generated, kept until the training rows
made of those generations ask for their features (`TeacherActor.features`), so the engine does
not prefill them again.

A training row is its generation's prompt and completion, cut at the training length. The
engine never fed the last sampled token back, so a whole generation's capture is one state
short: that state (of the row's last token) is filled with zeros, because no position a drafter
is trained on reads it (step j at index t proposes token t+2+j, so the last index proposes
nothing, and attention is causal). Rows with no capture (answers from the generation store, a
restarted teacher's) are prefilled as before."""

from __future__ import annotations

import numpy as np

from arctic_ray.engines.vllm.hidden_states import RequestStates

KEPT_GENERATIONS = 4
"""Captures of the last this many generate calls are kept: the stream has two in flight and asks
for features right after each; older ones belong to rows training set aside (too short)."""


class CapturedFeatures:
    def __init__(self) -> None:
        self.rows: dict[tuple[int, ...], tuple[int, np.ndarray]] = {}
        self.generation = 0
        self.recomputed = 0
        """States computed again after a preemption (each stored once)."""

    def add(self, generations: list[tuple[list[int], RequestStates]]) -> None:
        """One generate call's captures: (prompt + completion tokens, what the engine computed)."""
        self.generation += 1
        self.rows = {k: v for k, v in self.rows.items() if v[0] > self.generation - KEPT_GENERATIONS}
        for tokens, states in generations:
            n = len(states.ids)
            if n != len(tokens) - 1 or not np.array_equal(states.ids, tokens[:n]):
                continue  # not the path this generation took: its row is prefilled instead
            self.rows[tuple(tokens)] = (self.generation, states.features)
            self.recomputed += states.recomputed

    def take(self, sequence: list[int]) -> np.ndarray | None:
        """[len(sequence), F] features of a training row, or None if no generation captured it."""
        key = tuple(sequence)
        found = self.rows.pop(key, None)
        if found is None:  # a row cut at the training length
            longer = next((k for k in self.rows if len(k) > len(key) and k[: len(key)] == key), None)
            found = None if longer is None else self.rows.pop(longer)
        if found is None:
            return None
        features = found[1]
        if len(features) >= len(key):
            return features[: len(key)]
        return np.concatenate([features, np.zeros((1, features.shape[1]), features.dtype)])
