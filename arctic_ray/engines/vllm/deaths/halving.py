"""Which rows of a batch go back to an engine, and how, after engines died with them on it: the
batch is halved, and the halves halved, until the rows that kill the engine are found alone.

The plan is a pure function of how many times each row was on an engine whose process died
(the ledger's count, `ledger.py`), so it needs no state of its own and survives the death of
the actor that follows it: the retried task plans again from the counts and goes on where the
dead one stopped. A row's count places it on a level of a fixed halving of its batch (by
position): level 0 is the whole batch, level k the k-th halving. The first death of a batch may
be a batch-mate's fault (every batch on the engine dies with it), so a batch stays whole for
`DEATHS_BEFORE_SPLIT` deaths (the second with it alone on a fresh engine: its own); from then on
each death sends its rows one level down. A row that died with the engine alone (its group a
single row, after at least two deaths) is poison: set aside with an error, never sent again.
Each death moves the rows that were on the engine one level down, and a batch of n rows has
about log2(n) levels, so a row costs at most `DEATHS_BEFORE_SPLIT + log2(n)` engine deaths (each
an engine start, a model load) before it is answered or set aside."""

from __future__ import annotations

from dataclasses import dataclass, field

DEATHS_BEFORE_SPLIT = 2


@dataclass
class Plan:
    groups: list[list[int]] = field(default_factory=list)
    """Row positions to send, one group at a time, each alone on its engine, in this order."""
    poison: list[int] = field(default_factory=list)
    """Row positions the engine died on when they were alone on it: not sent again."""


def plan(deaths: list[int], deaths_before_split: int = DEATHS_BEFORE_SPLIT) -> Plan:
    """`deaths`: per row of the batch, how many engines died with it on them."""
    n = len(deaths)
    groups: dict[tuple[int, int], list[int]] = {}
    out = Plan()
    for i, died in enumerate(deaths):
        level = level_of(died, deaths_before_split)
        if level and died >= 2 and _alone(i, level - 1, n):
            out.poison.append(i)  # its last death was with it alone on the engine
            continue
        groups.setdefault(span(i, level, n), []).append(i)
    out.groups = [groups[s] for s in sorted(groups)]
    return out


def level_of(died: int, deaths_before_split: int) -> int:
    return 0 if died < deaths_before_split else died - deaths_before_split + 1


def _alone(i: int, level: int, n: int) -> bool:
    lo, hi = span(i, level, n)
    return hi - lo == 1


def span(i: int, level: int, n: int) -> tuple[int, int]:
    """[lo, hi): the part of a batch of `n` rows that holds row `i` after `level` halvings (a
    single row is not halved further)."""
    lo, hi = 0, n
    for _ in range(level):
        if hi - lo == 1:
            break
        mid = (lo + hi + 1) // 2
        lo, hi = (lo, mid) if i < mid else (mid, hi)
    return lo, hi
