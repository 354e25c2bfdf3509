"""From judged samples to pairs, one prompt at a time, with every sample accounted for.

- scores (a reward model): the best against the worst answer; ties at the top or the bottom are
  broken by a seeded draw, never by length; a pair must clear `min_margin`; all answers scoring
  alike is `all_equal`.
- verdicts (a verifier): a correct against an incorrect answer, each a seeded choice among its
  kind; a prompt whose answers are all correct or all wrong is set aside (`all_correct`,
  `all_wrong`); an answer that could not be checked (`timeout`, `unverifiable`) is never used.
- wins (a pairwise judge): the answer that won the most comparisons against the one that won the
  fewest; a prompt whose comparisons all came out tied is `tie`.

Each sample ends as one outcome: `chosen`, `rejected`, `not_picked` (a prompt with a pair, an
answer not in it), `tie`, `below_margin`, `all_equal`, `all_correct`, `all_wrong`,
`unverifiable`, or `failed` (generation or judging failed: the reason is kept); later stages
may turn a pair's two samples into `near_identical` or `duplicate_pair`."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable

import pyarrow as pa

OUTCOMES = (
    "chosen",
    "rejected",
    "not_picked",
    "tie",
    "below_margin",
    "all_equal",
    "all_correct",
    "all_wrong",
    "unverifiable",
    "failed",
    "near_identical",
    "duplicate_pair",
)
SAMPLE_COLUMNS = [("id", pa.string()), ("source_id", pa.string()), ("outcome", pa.string()), ("reason", pa.string())]
PAIR_COLUMNS = [
    ("id", pa.string()),
    ("prompt", pa.string()),
    ("chosen", pa.string()),
    ("rejected", pa.string()),
    ("chosen_id", pa.string()),
    ("rejected_id", pa.string()),
    ("judge", pa.string()),
    ("scores", pa.string()),
    ("margin", pa.float64()),
]
"""`prompt` (a message list) and `scores` travel as JSON text: Arrow would merge their shapes."""


def prompt_rng(seed: int, prompt_id: str) -> random.Random:
    """A draw of its own for each prompt: the same pairs whatever order prompts come in."""
    digest = hashlib.sha256(f"{seed}\0{prompt_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


Outcomes = dict[str, tuple[str, str]]
"""Sample id -> (outcome, reason)."""


def by_score(samples: list[dict], score: str, min_margin: float, rng: random.Random) -> tuple[tuple | None, Outcomes]:
    """((chosen, rejected, margin) or None, every sample's outcome) from a score per sample."""
    scored = [s for s in samples if s.get(score) is not None]
    out: Outcomes = {s["id"]: ("failed", s.get("reason") or "no score") for s in samples if s.get(score) is None}
    if len(scored) < 2:
        for s in scored:
            out[s["id"]] = ("all_equal", "fewer than two scored answers")
        return None, out
    best_score = max(s[score] for s in scored)
    worst_score = min(s[score] for s in scored)
    if best_score == worst_score:
        out.update({s["id"]: ("all_equal", f"every answer scored {best_score:.4g}") for s in scored})
        return None, out
    best = rng.choice([s for s in scored if s[score] == best_score])
    worst = rng.choice([s for s in scored if s[score] == worst_score])
    margin = best_score - worst_score
    if margin < min_margin:
        out.update({s["id"]: ("below_margin", f"margin {margin:.4g} < min_margin {min_margin:g}") for s in scored})
        return None, out
    return (best, worst, margin), _picked(scored, best, worst, out)


def by_verdict(samples: list[dict], rng: random.Random) -> tuple[tuple | None, Outcomes]:
    """A correct answer against an incorrect one (an unparseable answer is incorrect)."""
    out: Outcomes = {}
    correct, wrong = [], []
    for s in samples:
        verdict = s.get("verdict")
        if verdict == "correct":
            correct.append(s)
        elif verdict in ("incorrect", "unparseable"):
            wrong.append(s)
        elif verdict in ("timeout", "unverifiable"):
            out[s["id"]] = ("unverifiable", f"{verdict}: {s.get('verdict_reason') or ''}".rstrip(": "))
        else:
            out[s["id"]] = ("failed", s.get("reason") or f"no verdict ({verdict})")
    if not correct or not wrong:
        kind = "all_correct" if correct else "all_wrong"
        for s in correct + wrong:
            out[s["id"]] = (kind, f"{len(correct)} correct, {len(wrong)} wrong")
        return None, out
    chosen, rejected = rng.choice(correct), rng.choice(wrong)
    return (chosen, rejected, 1.0), _picked(correct + wrong, chosen, rejected, out)


def by_wins(samples: list[dict], comparisons: list[dict], rng: random.Random) -> tuple[tuple | None, Outcomes]:
    """The answer with the most wins against the one with the fewest (`comparisons`: a_id, b_id,
    `preferred` "a", "b" or "tie"; a comparison the judge failed on counts for neither)."""
    live = {s["id"]: s for s in samples if s.get("error") in (None, "")}
    out: Outcomes = {s["id"]: ("failed", s.get("error") or "") for s in samples if s["id"] not in live}
    wins = dict.fromkeys(live, 0)
    decided = 0
    for c in comparisons:
        if c.get("preferred") in ("a", "b") and c["a_id"] in live and c["b_id"] in live:
            wins[c["a_id"] if c["preferred"] == "a" else c["b_id"]] += 1
            decided += 1
    if decided == 0:
        out.update({i: ("tie", "every comparison came out tied or flipped with the order") for i in live})
        return None, out
    most, fewest = max(wins.values()), min(wins.values())
    if most == fewest:
        out.update({i: ("tie", f"every answer won {most} comparisons") for i in live})
        return None, out
    chosen = live[rng.choice([i for i, w in wins.items() if w == most])]
    rejected = live[rng.choice([i for i, w in wins.items() if w == fewest])]
    return (chosen, rejected, float(most - fewest)), _picked(list(live.values()), chosen, rejected, out)


def _picked(candidates: list[dict], chosen: dict, rejected: dict, out: Outcomes) -> Outcomes:
    for s in candidates:
        out[s["id"]] = ("not_picked", "")
    out[chosen["id"]] = ("chosen", "")
    out[rejected["id"]] = ("rejected", "")
    return out


def pair_row(prompt_id: str, messages: list[dict], picked: tuple, judge: str, scores: dict) -> dict:
    chosen, rejected, margin = picked
    return {
        "id": prompt_id,
        "prompt": json.dumps(messages),
        "chosen": chosen["completion"],
        "rejected": rejected["completion"],
        "chosen_id": chosen["id"],
        "rejected_id": rejected["id"],
        "judge": judge,
        "scores": json.dumps(scores),
        "margin": float(margin),
    }


def grouped(build: Callable[[str, list[dict]], tuple[dict | None, Outcomes]]):
    """A Ray Data `map_groups` function over one prompt's samples (grouped by `source_id`):
    rows of two kinds in one table, `kind` "pair" or "sample" (every sample's outcome)."""

    def run(group: pa.Table) -> pa.Table:
        samples = group.to_pylist()
        pair, outcomes = build(samples[0]["source_id"], samples)
        rows = [
            {"kind": "sample", "id": i, "source_id": samples[0]["source_id"], "outcome": o, "reason": r}
            for i, (o, r) in outcomes.items()
        ]
        if pair is not None:
            rows.append({"kind": "pair", **pair, "source_id": samples[0]["source_id"]})
        return pa.Table.from_pylist(rows, schema=GROUPED_SCHEMA)

    return run


GROUPED_SCHEMA = pa.schema([("kind", pa.string())] + SAMPLE_COLUMNS + [c for c in PAIR_COLUMNS if c[0] not in ("id",)])
