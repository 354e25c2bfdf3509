"""Packing SFT examples: a packed batch trains exactly like the same examples one by one (loss and
gradients), no token sees another example, bins keep every example once within capacity."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.nn import functional as F

from arctic_ray.data.chat import IGNORE_INDEX, tokenize_chat
from arctic_ray.data.multipack import packing_efficiency
from arctic_ray.data.packing import (
    BIN_SCHEMA,
    PackingError,
    best_fit_decreasing,
    pack,
    pack_table,
    pad_bins,
    units_table,
)
from arctic_ray.train.packed import packed_causal_mask, packed_loss, packed_target_logps, shifted_targets
from tests.support.packing_examples import skewed_examples, unpacked

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


def load(path: str, attn: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attn).eval()


@pytest.fixture(scope="module")
def examples(tiny_model) -> list[dict]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    out = []
    for chat in CHATS:
        ex = tokenize_chat(tok, chat, max_length=256)
        out.append({"input_ids": ex.input_ids, "labels": ex.labels})
    return out


def one_by_one(model, examples):
    """Sum of token cross-entropies over every example run alone, and the target count."""
    total, count = 0.0, 0
    for ex in examples:
        logits = model(input_ids=torch.tensor([ex["input_ids"]])).logits[0, :-1]
        targets = torch.tensor(ex["labels"][1:])
        total = total + F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="sum")
        count += int((targets != IGNORE_INDEX).sum())
    return total, count


def grads(model, names):
    params = dict(model.named_parameters())
    return {n: params[n].grad.clone() for n in names}


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_and_grads_equal_one_by_one(tiny_model, examples, attn):
    lengths = [len(e["input_ids"]) for e in examples]
    capacity = math.ceil(sum(lengths) / 2) + max(lengths)  # room for two bins, not one
    bins = pack(examples, capacity)
    assert len(bins) == 2 and all(b["num_examples"] >= 2 for b in bins)
    batch = pad_bins(bins, pad_id=0)
    assert batch["input_ids"].shape[1] == max(len(b["input_ids"]) for b in bins)  # padding is real

    names = [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.3.mlp.down_proj.weight",
        "lm_head.weight",
    ]
    model = load(tiny_model, attn)
    loss_sum, targets, router = packed_loss(model, batch)
    (loss_sum / targets).backward()
    packed_grads = grads(model, names)

    model.zero_grad()
    ref_sum, ref_count = one_by_one(model, examples)
    (ref_sum / ref_count).backward()
    ref_grads = grads(model, names)

    assert router is None
    assert int(targets) == ref_count == int((batch["labels"] != IGNORE_INDEX).sum())  # what a trainer counts
    assert abs(loss_sum.item() / ref_sum.item() - 1) < 1e-5
    for name in names:
        scale = ref_grads[name].abs().max()
        assert scale > 0
        assert (packed_grads[name] - ref_grads[name]).abs().max() <= 1e-4 * scale, name


def test_no_token_sees_another_example(tiny_model, examples):
    first, second = examples[1], examples[0]
    capacity = len(first["input_ids"]) + len(second["input_ids"])
    bins = pack([first, second], capacity)
    assert len(bins) == 1 and bins[0]["seq_lens"] == [len(first["input_ids"]), len(second["input_ids"])]
    batch = pad_bins(bins, pad_id=0)
    changed = {k: v.clone() for k, v in batch.items()}
    n = len(first["input_ids"])
    changed["input_ids"][0, 1:n] = (changed["input_ids"][0, 1:n] + 7) % 400  # rewrite example 1

    model = load(tiny_model, "sdpa")

    def logits(b, segments):
        mask = packed_causal_mask(segments, torch.float32)
        return model(input_ids=b["input_ids"], position_ids=b["position_ids"], attention_mask=mask).logits[0]

    with torch.no_grad():
        before, after = logits(batch, batch["segment_ids"]), logits(changed, batch["segment_ids"])
        assert not torch.allclose(before[:n], after[:n])  # example 1 did change
        assert torch.equal(before[n:], after[n:])  # example 2 did not notice
        alone = model(input_ids=torch.tensor([second["input_ids"]])).logits[0]
        assert torch.allclose(before[n:], alone, atol=1e-5)  # same as run alone
        # the same check catches a mask that lets examples see each other: a plain causal one
        causal = torch.ones_like(batch["segment_ids"])
        assert not torch.allclose(logits(batch, causal)[n:], logits(changed, causal)[n:])


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_rows_of_one_example_skip_the_mask_and_lose_nothing(tiny_model, examples, attn):
    """One example a row (long sequences): no [T, T] mask is built, the padding still sees nothing."""
    short, long = sorted(examples[:2], key=lambda e: len(e["input_ids"]))
    batch = pad_bins(pack([short], len(long["input_ids"])) + pack([long], len(long["input_ids"])), pad_id=0)
    assert int(batch["segment_ids"].max()) == 1 and int((batch["segment_ids"] == 0).sum()) > 0  # one row padded
    model = load(tiny_model, attn)
    with torch.no_grad():
        fast = packed_target_logps(model, batch)
        masked = packed_target_logps(model, {**batch, "segment_ids": batch["segment_ids"] * 2})  # forces the mask
        alone = packed_target_logps(model, pad_bins(pack([short], len(short["input_ids"])), pad_id=0))
    assert torch.equal(fast.target_mask, masked.target_mask)
    assert torch.allclose(fast.token_logps, masked.token_logps, atol=1e-5)
    n = len(short["input_ids"])
    assert torch.allclose(fast.token_logps[0, :n], alone.token_logps[0], atol=1e-5)


def test_bins_hold_every_example_once_within_capacity():
    capacity = 512
    examples = skewed_examples(300, capacity)
    bins = pack(examples, capacity, multiple_of=4)
    assert unpacked(bins) == Counter(tuple(e["input_ids"]) for e in examples)
    assert len(bins) % 4 == 0
    lengths = [len(b["input_ids"]) for b in bins]
    assert max(lengths) <= capacity
    assert min(lengths) >= 0.9 * capacity  # evened out: no ragged tail of half-empty bins
    assert packing_efficiency(bins, capacity) > 0.95
    raw = best_fit_decreasing([len(e["input_ids"]) for e in examples], capacity)
    assert min(sum(len(examples[i]["input_ids"]) for i in b) for b in raw) < 0.9 * capacity  # which it had
    for b in bins:
        assert sum(b["seq_lens"]) == len(b["input_ids"]) == len(b["labels"]) == len(b["position_ids"])
        assert b["num_examples"] == len(b["seq_lens"])
        assert b["position_ids"] == [p for n in b["seq_lens"] for p in range(n)]
        offsets = np.cumsum([0, *b["seq_lens"]])
        for start, end in zip(offsets[:-1], offsets[1:], strict=False):
            i = b["input_ids"][start]
            assert b["labels"][start:end] == [IGNORE_INDEX] * 4 + [i] * (end - start - 4)  # first label ignored already
    with pytest.raises(PackingError, match="example 1 has 600 tokens"):
        pack([examples[0], {"input_ids": [1] * 600, "labels": [1] * 600}], capacity)


def test_pad_bins_pads_to_the_longest_bin():
    examples = [
        {"input_ids": [5, 6, 7, 3], "labels": [5, 6, 7, 3]},
        {"input_ids": [8, 9], "labels": [IGNORE_INDEX, 9]},
        {"input_ids": [4], "labels": [4]},
    ]
    bins = pack(examples, 4)
    assert [b["seq_lens"] for b in bins] == [[4], [2, 1]]
    batch = pad_bins(bins, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 3], [8, 9, 4, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7, 3], [IGNORE_INDEX, 9, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3], [0, 1, 0, 0]]
    assert batch["segment_ids"].tolist() == [[1, 1, 1, 1], [1, 1, 2, 0]]
    columns = {k: np.array([np.asarray(b[k]) for b in bins], dtype=object) for k in bins[0]}  # as Ray Data hands them
    assert all(torch.equal(pad_bins(columns, 0)[k], v) for k, v in batch.items())


def test_a_block_packs_column_wise_from_any_chunking():
    """Ray hands a block as a table of several chunks, a slice of a larger one: the same bins,
    with 64-bit list offsets (a block of long sequences holds more than 2^31 tokens' worth)."""
    examples = [{"input_ids": [i] * n, "labels": [i] * n} for i, n in enumerate([5, 3, 7, 2, 6, 1], start=1)]
    whole = units_table(examples)
    chunked = pa.concat_tables([units_table(examples[:4]).slice(0, 4), units_table(examples[4:])])
    assert chunked.column("input_ids").num_chunks == 2
    bins = pack_table(chunked, 8, multiple_of=4)
    assert bins.schema == BIN_SCHEMA and pa.types.is_large_list(bins.schema.field("input_ids").type)
    assert bins.to_pylist() == pack_table(whole, 8, multiple_of=4).to_pylist() == pack(examples, 8, multiple_of=4)
    assert sorted(bins.column("num_examples").to_pylist()) == [1, 1, 2, 2]
    assert unpacked(bins.to_pylist()) == Counter(tuple(e["input_ids"]) for e in examples)
    empty = pack_table(units_table(examples[:1]), 8, multiple_of=4).to_pylist()
    assert [b["num_examples"] for b in empty] == [1, 0, 0, 0] and empty[1]["input_ids"] == empty[1]["seq_lens"] == []


def test_targets_never_cross_an_example_boundary():
    """Even for bins not made by pack (whose first labels are trained): the last token of an
    example predicts nothing, nor does padding."""
    labels = torch.tensor([[5, 6, 7, 4], [8, 9, 4, IGNORE_INDEX]])
    segments = torch.tensor([[1, 1, 1, 2], [1, 1, 2, 0]])
    assert shifted_targets(labels, segments).tolist() == [[6, 7, IGNORE_INDEX], [9, IGNORE_INDEX, IGNORE_INDEX]]
