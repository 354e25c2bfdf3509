"""The multipack Ray Data stage deals bins so that every rank does about the same work each step."""

from __future__ import annotations

from collections import Counter

import pytest

from arctic_ray.data.multipack import multipack, packing_efficiency, rank_imbalance
from arctic_ray.data.packing import BIN_SCHEMA
from tests.support.packing_examples import skewed_examples, unpacked


def test_multipack_stage_balances_ranks(ray_local):
    capacity, ranks, mbs = 512, 2, 2
    examples = skewed_examples(600, capacity, seed=1)
    rows = [{"id": f"row-{i}", **e} for i, e in enumerate(examples)]
    ds = ray_local.data.from_items(rows, override_num_blocks=4)
    out = multipack(ds, capacity, ranks, mbs, batch_rows=300).materialize()
    bins = out.take_all()
    assert out.schema().names == BIN_SCHEMA.names  # the id column is left behind
    assert unpacked(bins) == Counter(tuple(e["input_ids"]) for e in examples)  # none lost, none twice
    assert len(bins) % (ranks * mbs) == 0
    shards = out.split(ranks, equal=True)
    assert [s.count() for s in shards] == [len(bins) // ranks] * ranks  # equal, and nothing dropped
    assert packing_efficiency(bins, capacity) >= 0.9
    assert rank_imbalance(bins, ranks, mbs) <= 0.05
    assert rank_imbalance([{"input_ids": [0] * 100}, {"input_ids": [0] * 50}], 2, 1) == pytest.approx(1 / 3)
