"""The multipack Ray Data stage deals bins so that every rank does about the same work each step."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from arctic_ray.data.chat import IGNORE, tokenize_chat
from arctic_ray.data.multipack import BIN_SCHEMA, multipack, packing_efficiency, rank_imbalance

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Explain how photosynthesis works."},
        {"role": "assistant", "content": "Plants turn light, water and carbon dioxide into sugar and oxygen."},
    ],
    [
        {"role": "user", "content": "List three facts about the moon."},
        {"role": "assistant", "content": "It orbits the Earth."},
    ],
    [
        {"role": "user", "content": "Write a short poem about the sea."},
        {"role": "assistant", "content": "The waves roll in and out."},
        {"role": "user", "content": "Thank you!"},
        {"role": "assistant", "content": "The gulls cry above the shore."},
    ],
    [
        {"role": "user", "content": "How do I sort a list in Python?"},
        {"role": "assistant", "content": "Use sorted(items)."},
    ],
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tiny model runs faster on one thread than on two OpenMP threads of a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def examples(tiny_model) -> list[dict]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    out = []
    for chat in CHATS:
        ex = tokenize_chat(tok, chat, max_length=256)
        out.append({"input_ids": ex.input_ids, "labels": ex.labels})
    return out


def skewed_examples(n: int, capacity: int, seed: int = 0) -> list[dict]:
    """Log-normal lengths clipped to [16, capacity]; example i's tokens are all i, so it is found again."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=np.log(120), sigma=0.8, size=n), 16, capacity).astype(int)
    return [{"input_ids": [i] * int(n_), "labels": [IGNORE] * 4 + [i] * (int(n_) - 4)} for i, n_ in enumerate(lengths)]


def unpacked(bins) -> Counter:
    out = Counter()
    for b in bins:
        offsets = np.cumsum([0, *b["seq_lens"]])
        for start, end in zip(offsets[:-1], offsets[1:], strict=False):
            out[tuple(int(t) for t in b["input_ids"][start:end])] += 1
    return out


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
