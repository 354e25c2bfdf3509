"""Drafter training samples: the online stream's conversion equals the offline one, and reference
responses become completions."""

from arctic_ray.methods.spec_decode.samples import response_generations, training_columns
from tests.support.speculator_rows import ROWS, check


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
