"""Generations that cannot train a drafter are set aside with their reason (a Ray Data stage)."""

import ray.data

from arctic_ray.methods.spec_decode.samples import to_speculator_samples
from tests.support.speculator_rows import ROWS, check


def test_unusable_generations_are_set_aside_with_a_reason(ray_local):
    samples, rejects = to_speculator_samples(ray.data.from_items(ROWS), seq_len=10, n_predict=3, pad_id=0)
    (ok,) = samples.take_all()
    assert ok["id"] == "ok"
    check(ok, {r["id"]: r["reason"] for r in rejects})
