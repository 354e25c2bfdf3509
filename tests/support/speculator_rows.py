"""Generations for the drafter-sample tests, usable and not, and the check of what became of them."""

from __future__ import annotations

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
