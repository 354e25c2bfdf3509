"""Drafter training samples: the online stream's conversion equals the offline one, and reference
responses become completions."""

from arctic_ray.methods.spec_decode.samples import response_generations, training_columns

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


def test_stream_conversion_matches_the_offline_one():
    columns, rejects = training_columns(ROWS, seq_len=10, n_predict=3, pad_id=0)
    assert list(columns["id"]) == ["ok"]
    check({k: v[0] for k, v in columns.items()}, {r["id"]: r["reason"] for r in rejects})


def test_reference_responses_become_completions(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = [{"id": "a", "messages": [{"role": "user", "content": "Hi there"}], "response": "Hello! How can I help?"}]
    (gen,), rejects = response_generations(rows, tok)
    assert not rejects
    assert tok.decode(gen["completion_token_ids"]).startswith("Hello! How can I help?<|im_end|>")
    assert tok.decode(gen["prompt_token_ids"]).endswith("<|im_start|>assistant\n")
