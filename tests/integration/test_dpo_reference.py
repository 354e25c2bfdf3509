"""The reference's log-probs as a Ray Data stage: per token, they equal a plain Hugging Face
forward of the reference on each sequence alone; they are stored under their key, and a second
run with the same key reads them instead of computing them again."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from arctic_ray.core.storage import location
from arctic_ray.methods.dpo.reference import REF_COLUMN, reference_key, with_reference_logps
from arctic_ray.methods.dpo.units import pair_unit
from arctic_ray.models.ref import ModelRef


def test_reference_logps_equal_an_hf_forward_and_are_reused(ray_local, tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    pairs = [
        {
            "id": f"p{i}",
            "prompt": [{"role": "user", "content": f"Name {i} colours."}],
            "chosen": [{"role": "assistant", "content": "Red, green and blue." * (i + 1)}],
            "rejected": [{"role": "assistant", "content": "I do not know."}],
        }
        for i in range(5)
    ]
    units = [pair_unit(tok, p, max_length=96, max_prompt_length=48) for p in pairs]
    ref = ModelRef.of(tiny_model)
    key = reference_key(ref, ref, pairs, {"max_length": 96})
    assert key != reference_key(ref, ref, pairs[:4], {"max_length": 96})  # the pairs are in the key
    where = location(tmp_path / "store").join(key)
    ds = ray_local.data.from_items(units)
    scored, reused = with_reference_logps(ds, where, ref, "sdpa", 0, (1, 1), 0.0, batch_size=2)
    rows = {r["id"]: r for r in scored.take_all()}
    assert not reused and set(rows) == {u["id"] for u in units}

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    for unit in units:
        got = rows[unit["id"]][REF_COLUMN]
        assert len(got) == len(unit["input_ids"])
        start = 0
        for n in unit["seq_lens"]:  # each sequence alone, unpacked, in HF's own forward
            ids = torch.tensor([unit["input_ids"][start : start + n]])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0].float()
            expected = logits[:-1].log_softmax(-1).gather(1, ids[0, 1:, None])[:, 0]
            labels = unit["labels"][start + 1 : start + n]
            for j, label in enumerate(labels):
                if label >= 0:
                    assert got[start + 1 + j] == pytest.approx(float(expected[j]), abs=1e-4)
                else:
                    assert got[start + 1 + j] == 0.0
            assert got[start] == 0.0  # a sequence's first token has no target
            start += n

    again, reused = with_reference_logps(ds, where, ref, "sdpa", 0, (1, 1), 0.0)
    assert reused and {r["id"]: r[REF_COLUMN] for r in again.take_all()} == {k: r[REF_COLUMN] for k, r in rows.items()}
