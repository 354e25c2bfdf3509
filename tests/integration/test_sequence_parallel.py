"""Sequence parallelism, checked against one process doing the whole batch: two gloo processes
(torch.multiprocessing) split one packed row holding several examples. The summed loss and every
gradient equal a single-process forward and backward of the same row (fp32; rtol 1e-4, atol 1e-5
on gradients), with the MLP and the logits computed in tiles too; DPO's per-sequence log-probs,
added up over the group, equal the unsplit ones."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from arctic_ray.train.packed import packed_target_logps, sequence_sums
from tests.support.sequence_parallel_runs import packed_batch, run_ranks, sequence_logps_rank, sft_rank

CHATS = [
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue, like the sky at noon."}],
    [{"role": "user", "content": "Count to three."}, {"role": "assistant", "content": "One, two, three."}],
    [
        {"role": "user", "content": "What is a cat?"},
        {"role": "assistant", "content": "A small furry animal that purrs."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "A loyal animal that barks."},
    ],
]


@pytest.fixture(scope="module")
def batch(tiny_model):
    return packed_batch(AutoTokenizer.from_pretrained(tiny_model), CHATS, capacity=512)


def single_process(tiny_model, batch):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa")
    logps = packed_target_logps(model, batch)
    loss = -logps.token_logps.sum()
    loss.backward()
    return model, float(loss.detach()), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("tiled", [False, True], ids=["plain", "tiled_mlp_and_logits"])
def test_sp2_gives_the_loss_and_gradients_of_one_process(tiny_model, batch, tmp_path, tiled):
    _, loss, grads = single_process(tiny_model, batch)
    ranks = run_ranks(sft_rank, 2, tmp_path, tiny_model, batch, tiled)
    assert sum(r["targets"] for r in ranks) == int((batch["labels"][:, 1:] >= 0).sum())  # each target once
    for r in ranks:
        assert r["loss"] == pytest.approx(loss, rel=1e-5)
        assert set(r["grads"]) == set(grads)
        for name, g in grads.items():
            torch.testing.assert_close(r["grads"][name], g, rtol=1e-4, atol=1e-5, msg=name)


def test_dpo_sequence_logps_under_sp2_equal_sp1(tiny_model, batch, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa").eval()
    with torch.no_grad():
        logps = packed_target_logps(model, batch)
        whole = sequence_sums(logps.token_logps, logps.target_mask, batch["segment_ids"]).tolist()
    assert len(whole) == len(CHATS)
    for per_rank in run_ranks(sequence_logps_rank, 2, tmp_path, tiny_model, batch):
        assert per_rank == pytest.approx(whole, abs=1e-4)
