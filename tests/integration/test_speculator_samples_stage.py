"""Generations that cannot train a drafter are set aside with their reason (a Ray Data stage)."""

import ray.data

from arctic_ray.methods.spec_decode.samples import to_speculator_samples

ROWS = [
    {"id": "ok", "prompt_token_ids": [1, 2, 3], "completion_token_ids": [4, 5, 6, 7, 8]},
    {"id": "empty", "prompt_token_ids": [1, 2, 3], "completion_token_ids": []},
    {"id": "short", "prompt_token_ids": [1, 2, 3], "completion_token_ids": [4, 5]},
    {"id": "long-prompt", "prompt_token_ids": list(range(1, 13)), "completion_token_ids": [4, 5, 6, 7]},
]


def check(ok: dict, reasons: dict):
    assert ok["input_ids"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 0, 0]
    assert (ok["completion_start"], ok["length"]) == (3, 8)
    assert reasons.keys() == {"empty", "short", "long-prompt"}
    assert reasons["empty"] == "empty completion"
    assert "need 4" in reasons["short"] and "does not fit seq_len 10" in reasons["long-prompt"]


def test_unusable_generations_are_set_aside_with_a_reason(ray_local):
    samples, rejects = to_speculator_samples(ray.data.from_items(ROWS), seq_len=10, n_predict=3, pad_id=0)
    (ok,) = samples.take_all()
    assert ok["id"] == "ok"
    check(ok, {r["id"]: r["reason"] for r in rejects})
