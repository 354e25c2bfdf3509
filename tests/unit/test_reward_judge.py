"""The reward-model judge's parts that need no cluster: rows kept without `min_score`, a long
conversation keeping its last tokens, bad recipe fields, non-string completions, models with more
than one label refused, and pad == eos scoring at the row's own last token."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from pydantic import TypeAdapter, ValidationError

from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.judges.reward_model import RewardModelConfig
from arctic_ray.curate.judges.reward_scorer import RewardScorer
from arctic_ray.models.ref import ModelRef
from tests.support.reward_rows import BAD, GOOD, rows_with_bad


def test_without_min_score_every_scorable_row_is_kept(reward_model):
    """min_score None: the threshold pass leaves every mark as the scorer set it."""
    from arctic_ray.curate.judges.reward_model import _below

    scorer = RewardScorer(
        ModelRef.of(reward_model),
        "messages",
        "completion",
        "reward",
        "reward_truncated",
        max_length=2048,
        use_gpu=False,
    )
    batch = scorer(pa.Table.from_pylist(rows_with_bad()))
    reasons = _below(None, "reward")(batch)["_judge_reason"].to_pylist()
    assert reasons == [""] * len(GOOD) + [reason for _, reason in BAD.values()]


def test_a_long_conversation_keeps_its_last_max_length_tokens(reward_model, direct):
    scorer = RewardScorer(
        ModelRef.of(reward_model), "messages", "completion", "reward", "reward_truncated", max_length=8, use_gpu=False
    )
    out = scorer(pa.Table.from_pylist(GOOD[:2])).to_pylist()
    for row, original in zip(out, GOOD[:2], strict=False):
        assert row["reward_truncated"] is True
        assert row["reward"] == pytest.approx(direct(original, keep_last=8)[0], abs=1e-4)


def test_a_misspelt_or_bad_recipe_field_is_named():
    recipe = TypeAdapter(JudgeConfig.union(default="reward_model"))
    assert isinstance(recipe.validate_python({"type": "reward_model", "min_score": 0.5}), RewardModelConfig)
    with pytest.raises(ValidationError, match="min_scor"):
        recipe.validate_python({"type": "reward_model", "min_scor": 0.5})
    with pytest.raises(ValidationError, match="concurrency"):
        RewardModelConfig(concurrency=(3, 1))
    assert RewardModelConfig.model_validate({"concurrency": [1, 4]}).concurrency == (1, 4)


def test_a_non_string_completion_is_unscorable():
    from arctic_ray.curate.judges.reward_scorer import unscorable

    row = {"messages": [{"role": "user", "content": "Hi"}], "completion": 5}
    assert unscorable(row, "messages", "completion") == "completion 'completion' is not a string (int)"
    assert unscorable({**row, "completion": "Hello."}, "messages", "completion") == ""


def test_a_model_with_more_than_one_label_is_refused(tiny2_model):
    from arctic_ray.curate.judges.reward_scorer import NotARewardModelError

    with pytest.raises(NotARewardModelError, match="2 labels"):  # a causal LM loads as a 2-label classifier
        RewardScorer(
            ModelRef.of(tiny2_model),
            "messages",
            "completion",
            "reward",
            "reward_truncated",
            max_length=64,
            use_gpu=False,
        )


def test_pad_equal_to_eos_scores_at_the_rows_last_token(reward_model, tmp_path):
    """A tokenizer whose pad is its eos and whose template ends on eos (as Llama 3's does): the
    score is the one at the row's last token (its eos), read straight from the score head, not
    at the token before it where a pad-id search would stop."""
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path / "pad-is-eos"
    shutil.copytree(reward_model, path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>"
        "{% if not loop.last %}\n{% endif %}{% endfor %}"
    )
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = json.loads((path / "config.json").read_text())
    config["pad_token_id"] = tokenizer.eos_token_id
    (path / "config.json").write_text(json.dumps(config))
    assert tokenizer.pad_token_id == tokenizer.eos_token_id

    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    expected = {}
    for row in GOOD:
        chat = row["messages"] + [{"role": "assistant", "content": row["completion"]}]
        ids = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
        assert ids[-1] == tokenizer.eos_token_id
        with torch.no_grad():
            hidden = model.model(input_ids=torch.tensor([ids])).last_hidden_state
            expected[row["id"]] = model.score(hidden[0, -1]).item()

    scorer = RewardScorer(
        ModelRef.of(str(path)), "messages", "completion", "reward", "reward_truncated", max_length=2048, use_gpu=False
    )
    got = scorer(pa.Table.from_pylist(GOOD)).to_pylist()
    for row in got:
        assert row["reward"] == pytest.approx(expected[row["id"]], abs=1e-4), row["id"]
