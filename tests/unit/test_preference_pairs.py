"""From judged samples to pairs: the best against the worst score with ties broken by a seeded
draw (never by length), a margin to clear, a correct against an incorrect answer, a pairwise
judge's wins with ties and flips kept apart, near-identical answers found, and every sample given
exactly one outcome."""

from __future__ import annotations

import pytest

from arctic_ray.methods.dpo.preference.pair_filters import similarity
from arctic_ray.methods.dpo.preference.pairs import OUTCOMES, by_score, by_verdict, by_wins, prompt_rng


def samples(**scores) -> list[dict]:
    return [{"id": k, "completion": k * 3, "reward": v} for k, v in scores.items()]


def check_accounting(given: list[dict], outcomes: dict) -> None:
    assert set(outcomes) == {s["id"] for s in given}  # each sample exactly once
    assert all(o in OUTCOMES for o, _ in outcomes.values())


def test_best_against_worst_and_the_margin():
    s = samples(a=0.1, b=0.9, c=0.5, d=-0.3)
    pair, out = by_score(s, "reward", 0.0, prompt_rng(0, "p"))
    assert (pair[0]["id"], pair[1]["id"], pair[2]) == ("b", "d", pytest.approx(1.2))
    assert out == {"b": ("chosen", ""), "d": ("rejected", ""), "a": ("not_picked", ""), "c": ("not_picked", "")}
    pair, out = by_score(s, "reward", 2.0, prompt_rng(0, "p"))
    assert pair is None and {o for o, _ in out.values()} == {"below_margin"}
    pair, out = by_score(samples(a=1.0, b=1.0), "reward", 0.0, prompt_rng(0, "p"))
    assert pair is None and {o for o, _ in out.values()} == {"all_equal"}
    unscored = [*samples(a=1.0, b=0.0), {"id": "x", "completion": "", "reward": None, "reason": "empty completion"}]
    pair, out = by_score(unscored, "reward", 0.0, prompt_rng(0, "p"))
    assert out["x"] == ("failed", "empty completion")
    check_accounting(unscored, out)


def test_ties_are_broken_by_a_seeded_draw_never_by_length():
    tied = [{"id": k, "completion": "x" * n, "reward": 1.0} for k, n in (("short", 1), ("mid", 50), ("long", 400))]
    tied.append({"id": "low", "completion": "y", "reward": 0.0})
    picks = [by_score(tied, "reward", 0.0, prompt_rng(seed, "p"))[0][0]["id"] for seed in range(40)]
    assert picks == [by_score(tied, "reward", 0.0, prompt_rng(seed, "p"))[0][0]["id"] for seed in range(40)]  # seeded
    assert set(picks) == {"short", "mid", "long"}  # every tied answer is drawn, whatever its length


def test_a_correct_answer_against_an_incorrect_one():
    given = [
        {"id": "r1", "verdict": "correct"},
        {"id": "r2", "verdict": "correct"},
        {"id": "w1", "verdict": "incorrect"},
        {"id": "u1", "verdict": "unparseable"},
        {"id": "t1", "verdict": "timeout", "verdict_reason": "past 5 s"},
    ]
    pair, out = by_verdict(given, prompt_rng(1, "q"))
    assert pair[0]["verdict"] == "correct" and pair[1]["verdict"] in ("incorrect", "unparseable")
    assert out["t1"] == ("unverifiable", "timeout: past 5 s")  # never used in a pair
    check_accounting(given, out)
    all_right = [{"id": "a", "verdict": "correct"}, {"id": "b", "verdict": "correct"}]
    assert by_verdict(all_right, prompt_rng(1, "q"))[1] == {
        "a": ("all_correct", "2 correct, 0 wrong"),
        "b": ("all_correct", "2 correct, 0 wrong"),
    }
    all_wrong = [{"id": "a", "verdict": "incorrect"}, {"id": "b", "verdict": "unparseable"}]
    assert {o for o, _ in by_verdict(all_wrong, prompt_rng(1, "q"))[1].values()} == {"all_wrong"}


def test_pairwise_wins_keep_ties_and_flips_apart():
    two = [{"id": "a", "completion": "A", "error": ""}, {"id": "b", "completion": "B", "error": ""}]
    pair, out = by_wins(two, [{"a_id": "a", "b_id": "b", "preferred": "b"}], prompt_rng(0, "p"))
    assert (pair[0]["id"], pair[1]["id"]) == ("b", "a")
    # both orders disagreed: the pairwise step reports a tie, which is no preference
    pair, out = by_wins(two, [{"a_id": "a", "b_id": "b", "preferred": "tie"}], prompt_rng(0, "p"))
    assert pair is None and {o for o, _ in out.values()} == {"tie"}
    # n = 3: every pair asked; the answer with the most wins over the one with the fewest
    three = [*two, {"id": "c", "completion": "C", "error": ""}]
    comparisons = [
        {"a_id": "a", "b_id": "b", "preferred": "a"},
        {"a_id": "a", "b_id": "c", "preferred": "a"},
        {"a_id": "b", "b_id": "c", "preferred": None},  # the judge failed: counts for neither
    ]
    pair, out = by_wins(three, comparisons, prompt_rng(0, "p"))
    assert pair[0]["id"] == "a" and pair[1]["id"] in ("b", "c") and pair[2] == 2.0
    check_accounting(three, out)


def test_near_identical_answers_are_found():
    a = "Tom has 3 apples and buys 4 more, so he has 7 apples in all."
    sims = similarity([a, a, a], [a, a.replace("in all", "in total"), "I do not know the answer to that."])
    assert sims[0] == 1.0 and 0.5 < sims[1] < 1.0 and sims[2] < 0.2
