"""The reward-model judge as a Ray Data stage: scores equal a direct forward of each row alone,
`min_score` splits rows with the score in the reason, and unscorable rows are rejected, none lost."""

from __future__ import annotations

import json

import pytest

from arctic_ray.curate.judges.reward_model import RewardModelConfig
from tests.support.reward_rows import BAD, GOOD, rows_with_bad


@pytest.fixture(scope="module")
def threshold(expected) -> float:
    """Halfway between the second and third lowest scores: two rows below it, three kept. Not a
    score itself: the pool's forward differs from the direct one in the last bits, so a
    threshold equal to a row's score could fall on either side of it."""
    low = sorted(expected.values())
    assert low[2] - low[1] > 1e-3, low  # room on both sides for that difference
    return (low[1] + low[2]) / 2


@pytest.fixture(scope="module")
def scored(ray_local, reward_model, threshold):
    """One run (one actor start: the slow part) over good and unscorable rows, all in one batch,
    on an autoscaling pool."""
    step = RewardModelConfig(model=reward_model, min_score=threshold, name="rm", batch_size=32, concurrency=(1, 2))
    result = step.apply(ray_local.data.from_items(rows_with_bad(), override_num_blocks=1))
    return result.kept.take_all(), result.rejects.take_all()


def test_scores_equal_a_direct_forward_of_each_row_alone(scored, direct, expected):
    kept, rejects = scored
    lengths = {direct(row)[1] for row in GOOD}
    assert len(lengths) == len(GOOD), "rows of different lengths share the batch"
    rows = kept + [json.loads(r["row"]) for r in rejects if r["id"] in expected]
    assert sorted(r["id"] for r in rows) == sorted(expected)
    for row in rows:
        assert row["reward"] == pytest.approx(expected[row["id"]], abs=1e-4), row["id"]
        assert row["reward_truncated"] is False
    assert len({round(v, 3) for v in expected.values()}) == len(GOOD), "scores should differ between rows"


def test_min_score_splits_rows_with_the_score_in_the_reason(scored, expected, threshold):
    kept, rejects = scored
    low = [r for r in rejects if r["id"] in expected]
    assert sorted(r["id"] for r in kept) == sorted(i for i, s in expected.items() if s >= threshold)
    assert sorted(r["id"] for r in low) == sorted(i for i, s in expected.items() if s < threshold)
    assert len(low) == 2
    for reject in low:
        row = json.loads(reject["row"])
        assert reject["stage"] == "rm"
        assert reject["reason"] == f"reward {row['reward']:.4g} < min_score {threshold:g}"


def test_unscorable_rows_are_rejected_with_their_reason_and_none_is_lost(scored, expected):
    kept, rejects = scored
    assert len(kept) + len(rejects) == len(rows_with_bad())
    unscorable = {r["id"]: r["reason"] for r in rejects if r["id"] not in expected}
    assert unscorable == {name: reason for name, (_, reason) in BAD.items()}
    for reject in rejects:
        assert json.loads(reject["row"])["reward"] is None or reject["id"] in expected
