"""The verifier on real local Ray: every row comes back with its verdict and reason. One answer
hangs math-verify in C (sympy's gcd of a million-digit fraction, which the per-answer timer's
signal cannot interrupt): its task is killed at its deadline, its batch is halved until that answer is
alone, and only it is `timeout`. As a judge step, only the correct rows are kept."""

from __future__ import annotations

import time

import pytest
import ray.data

from arctic_ray.curate.judges.answer_check import CORRECT, INCORRECT, TIMEOUT, UNPARSEABLE, UNVERIFIABLE
from arctic_ray.curate.judges.verifier import (
    VERDICT,
    VERDICT_REASON,
    VerifierConfig,
    verify_rows,
)

ROWS = [
    ("c1", "42", "Adding them up, so the answer is \\boxed{42}", CORRECT),
    ("c2", "1/2", "The answer is 0.5.", CORRECT),
    ("c3", "\\frac{3}{4}", "That is $0.75$", CORRECT),
    ("c4", "x^2+1", "We get $1+x^2$.", CORRECT),
    ("c5", "7", "The answer is 7.", CORRECT),
    ("i1", "42", "The answer is 41.", INCORRECT),
    ("i2", "10", "\\boxed{12}", INCORRECT),
    ("i3", "1/3", "The answer is 0.3", INCORRECT),
    ("p1", "5", "I don't know", UNPARSEABLE),
    ("p2", "9", "", UNPARSEABLE),
    ("u1", "", "The answer is 3.", UNVERIFIABLE),
    ("u2", None, "\\boxed{4}", UNVERIFIABLE),
]
HANG = ("h1", "7", "The answer is \\boxed{\\frac{3^{3000000}+1}{2^{4800000}+1}}", TIMEOUT)
"""sympy computes the fraction's gcd in C for half a minute: no signal handler runs meanwhile."""
SLOW = ("s1", "7", "The answer is \\boxed{9^{9^{9^{9}}}}", TIMEOUT)
"""Slow in Python (sympy raising 9 to a huge power): the in-task timer stops it, no kill."""


def dataset(rows) -> ray.data.Dataset:
    items = [{"id": i, "answer": gold, "completion": text, "prompt": f"question {i}"} for i, gold, text, _ in rows]
    return ray.data.from_items(items, override_num_blocks=3)


@pytest.mark.timeout(300)
def test_every_row_gets_its_verdict_and_the_hang_is_killed(ray_local):
    rows = ROWS[:6] + [HANG] + ROWS[6:]  # the hang shares a batch with others, which keep their verdicts
    cfg = VerifierConfig(timeout_s=3, batch_size=2)
    started = time.monotonic()
    verified = verify_rows(dataset(rows), cfg)
    got = {r["id"]: r for r in verified.rows.take_all()}
    print(f"verify_rows: {time.monotonic() - started:.1f} s, {verified.counts}, {verified.killed} killed")

    assert {i: r[VERDICT] for i, r in got.items()} == {i: v for i, _, _, v in rows}
    assert all(r["prompt"] == f"question {i}" for i, r in got.items())  # the rows themselves, unchanged
    assert all((r[VERDICT_REASON] == "") == (r[VERDICT] == CORRECT) for r in got.values())
    assert "worker killed" in got["h1"][VERDICT_REASON]
    assert "'41'" in got["i1"][VERDICT_REASON]
    assert verified.counts == {CORRECT: 5, INCORRECT: 3, UNPARSEABLE: 2, TIMEOUT: 1, UNVERIFIABLE: 2}
    assert verified.killed == 2  # its 2-answer batch, then itself alone


@pytest.mark.timeout(300)
def test_judge_step_keeps_the_correct_rows(ray_local):
    rows = ROWS + [SLOW]
    step = VerifierConfig(timeout_s=2, batch_size=5)
    out = step.apply(dataset(rows))
    kept = {r["id"] for r in out.kept.take_all()}
    rejects = {r["id"]: r for r in out.rejects.take_all()}

    assert kept == {i for i, _, _, v in rows if v == CORRECT}
    assert {i: r["reason"].split(":")[0] for i, r in rejects.items()} == {i: v for i, _, _, v in rows if v != CORRECT}
    assert all(r["stage"] == "verifier" for r in rejects.values())
    assert "past timeout_s (2 s of CPU)" in rejects["s1"]["reason"]
    assert "no reference answer in 'answer'" in rejects["u1"]["reason"]
