"""SFT examples from chat sources: each source read with `data/sources.py`, its rows checked
(a row that cannot be used goes to rejects with its reason), a held-out share set aside by a
stable hash of the id (before any row is repeated, so no copy leaks into eval), the rest taken
by the source's weight, and every conversation tokenized as ONE example with all its assistant
turns trained (`tokenize_chat`) in a Ray Data stage. Examples dropped (too long, nothing to
train) are counted per source and kept as rejects with the reason."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from arctic_ray.data.chat_examples import split_source
from arctic_ray.methods.sft.config import SFTDataConfig, SFTSource


@dataclass
class SFTRows:
    groups: dict[str, list[dict]] = field(default_factory=dict)
    """Training rows (id, source, messages) by phase group, in recipe order."""
    eval: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)


def weighted(rows: list[dict], weight: float, seed: int) -> list[dict]:
    """Each row floor(weight) times, plus a seeded share (weight - floor) of the rows once more;
    a repeated row gets its own id."""
    whole, part = int(weight), weight - int(weight)
    out = [{**r, "id": r["id"] if k == 0 else f"{r['id']}#{k}"} for k in range(whole) for r in rows]
    extra = random.Random(seed).sample(rows, round(part * len(rows)))
    return out + [{**r, "id": f"{r['id']}#{whole}" if whole else r["id"]} for r in extra]


def read_sft_rows(cfg: SFTDataConfig) -> SFTRows:
    out = SFTRows()
    seen: set[str] = set()
    for source in cfg.sources:
        counts = out.counts.setdefault(source.label, Counter())
        train, held = split_source(source, counts, out.rejects, seen, cfg.eval_fraction)
        out.eval += held
        taken = weighted(train, source.weight, cfg.seed)
        counts.update(used=len(taken))
        out.groups.setdefault(group_of(source), []).extend(taken)
    return out


def group_of(source: SFTSource) -> str:
    return source.group or source.label
