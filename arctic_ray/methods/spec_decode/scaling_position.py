"""Where a run's training tokens sit on a data-scaling curve (`benchmarks/spec_decode_scaling.py`'s
`points.json`): the curve's speedup on the foreign set at those tokens, interpolated on
log(tokens) between the measured sizes around them, or extrapolated from the two nearest when
the run lies outside the curve (said so), beside suffix decoding's speedup on the same set."""

from __future__ import annotations

import json
import math

from arctic_ray.core.storage import location


def read_curve(uri: str) -> dict:
    return json.loads(location(uri).read_text())


def position_on_curve(curve: dict, tokens: int, model: str) -> dict:
    """{tokens, speedup_foreign (the curve's at `tokens`), between: (lower, upper) measured token
    counts, extrapolated, suffix_foreign} for a run of `model`; a curve of another model is an
    error (its figures say nothing about this one)."""
    if curve.get("model") not in (None, model):
        raise ValueError(f"the scaling curve is of {curve['model']!r}, this run's model is {model!r}")
    points = sorted((p for p in curve["points"] if not p.get("temperature")), key=lambda p: p["tokens"])
    if len(points) < 2 or tokens <= 0:
        raise ValueError("a scaling curve needs two greedy points, and a run some training tokens")
    below = [p for p in points if p["tokens"] <= tokens]
    above = [p for p in points if p["tokens"] > tokens]
    lower, upper = (below[-1], above[0]) if below and above else (points[:2] if not below else points[-2:])
    x0, x1, x = math.log(lower["tokens"]), math.log(upper["tokens"]), math.log(tokens)
    slope = (upper["speedup_foreign"] - lower["speedup_foreign"]) / (x1 - x0)
    return {
        "tokens": tokens,
        "speedup_foreign": lower["speedup_foreign"] + slope * (x - x0),
        "between": (lower["tokens"], upper["tokens"]),
        "extrapolated": not (below and above),
        "suffix_foreign": curve["baselines_foreign"]["suffix"],
    }


def position_sentence(position: dict) -> str:
    lower, upper = position["between"]
    where = (
        f"outside the measured sizes (extrapolated from {lower:,} and {upper:,})"
        if position["extrapolated"]
        else f"between the measured {lower:,} and {upper:,}"
    )
    return (
        f"This run trained on {position['tokens']:,} completion tokens, {where} on the scaling curve, "
        f"which gives {position['speedup_foreign']:.2f}x on the foreign set at that size (suffix decoding: "
        f"{position['suffix_foreign']:.2f}x)."
    )
