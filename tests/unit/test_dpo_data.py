"""Preference pairs on their way to the trainer: TRL's formats read alike, malformed pairs set
aside with their reason, only the final turn trained, the truncation rule, a pair packed whole
giving the same log-probs as its sequences alone, and samples that differ."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from arctic_ray.core.recipe import RecipeError
from arctic_ray.data.chat import IGNORE_INDEX, final_turn_labels
from arctic_ray.data.packing import make_bin, pack, pad_bins
from arctic_ray.data.sources import SourceConfig
from arctic_ray.job_table import validate_recipe
from arctic_ray.methods.dpo.pairs import as_pair, read_pairs
from arctic_ray.methods.dpo.units import pair_unit
from arctic_ray.synth.backend import sample_seed
from arctic_ray.train.packed import packed_target_logps, sequence_sums

PROMPT = [{"role": "user", "content": "What is 2 + 3?"}]
GOOD = [{"role": "assistant", "content": "2 + 3 = 5."}]
BAD = [{"role": "assistant", "content": "2 + 3 = 6."}]


def test_trl_formats_read_as_one_pair():
    conversational = {"prompt": PROMPT, "chosen": GOOD, "rejected": BAD}
    implicit = {"chosen": PROMPT + GOOD, "rejected": PROMPT + BAD}
    text = {"prompt": PROMPT[0]["content"], "chosen": GOOD[0]["content"], "rejected": BAD[0]["content"]}
    pairs = [as_pair(row) for row in (conversational, implicit, text)]
    assert all(reason == "" for _, reason in pairs)
    assert pairs[0][0] == pairs[1][0] == pairs[2][0] == {"prompt": PROMPT, "chosen": GOOD, "rejected": BAD}


def test_malformed_pairs_go_to_rejects_with_their_reason(tmp_path):
    rows = [
        {"id": "ok", "prompt": PROMPT, "chosen": GOOD, "rejected": BAD},
        {"id": "no-rejected", "prompt": PROMPT, "chosen": GOOD},
        {"id": "same", "prompt": PROMPT, "chosen": GOOD, "rejected": GOOD},
        {"id": "empty-turn", "prompt": PROMPT, "chosen": [{"role": "assistant", "content": "  "}], "rejected": BAD},
        {"id": "no-shared-prompt", "chosen": GOOD, "rejected": BAD},
        {"id": "ok", "prompt": PROMPT, "chosen": GOOD, "rejected": BAD},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = read_pairs([SourceConfig(path=path)], [], eval_fraction=0.0)
    reasons = {json.loads(r["row"])["id"]: r["reason"] for r in out.rejects}
    assert reasons == {
        "no-rejected": "missing `rejected`",
        "same": "chosen equals rejected: nothing to prefer",
        "empty-turn": "chosen[0] is an empty turn",
        "no-shared-prompt": "missing `prompt`, and `chosen` and `rejected` share no leading turn to take as one",
        "ok": "duplicate id 'ok'",
    }
    assert [p["id"] for p in out.train] == ["ok"] and out.counts["rows"] == len(rows)
    assert out.counts["rows"] == out.counts["rejected"] + out.counts["train"] + out.counts["eval"]  # none lost


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_only_the_final_turn_is_trained(tokenizer):
    chat = [*PROMPT, {"role": "assistant", "content": "Five."}, {"role": "user", "content": "Sure?"}, *GOOD]
    ids, labels, start = final_turn_labels(tokenizer, chat)
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    assert trained == list(range(start, len(ids)))
    before = tokenizer.apply_chat_template(chat[:-1], add_generation_prompt=True, tokenize=True)
    before = list(before["input_ids"] if hasattr(before, "keys") else before)
    assert start == len(before) and ids[:start] == before  # the earlier answer is context only


def test_truncation_keeps_the_prompts_end_and_cuts_the_response(tokenizer):
    long_prompt = [{"role": "user", "content": " ".join(f"word{i}" for i in range(200)) + " What is 2 + 3?"}]
    pair = {
        "id": "p",
        "prompt": long_prompt,
        "chosen": GOOD,
        "rejected": [{"role": "assistant", "content": "six " * 80}],
    }
    full, _, start = final_turn_labels(tokenizer, long_prompt + GOOD)
    unit = pair_unit(tokenizer, pair, max_length=64, max_prompt_length=40)
    chosen_len, rejected_len = unit["seq_lens"]
    assert unit["outcome"] == "truncated" and max(chosen_len, rejected_len) <= 64
    assert unit["input_ids"][:chosen_len] == full[start - 40 :][:64]  # the prompt's last 40 tokens, then the answer
    assert rejected_len == 64 and unit["labels"][chosen_len + 40] != IGNORE_INDEX  # the response starts at 40
    nothing_left = pair_unit(tokenizer, pair, max_length=40, max_prompt_length=40)
    assert nothing_left["outcome"] == "dropped_no_response_left" and nothing_left["input_ids"] == []


def test_a_packed_pair_has_the_log_probs_of_its_sequences_alone(tiny_model, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa").eval()
    pairs = [
        {"id": f"p{i}", "prompt": [{"role": "user", "content": f"Count to {i}."}], "chosen": GOOD, "rejected": BAD}
        for i in range(3)
    ]
    units = [pair_unit(tokenizer, p, max_length=64, max_prompt_length=32) for p in pairs]
    bins = pack(units, capacity=4 * 64)  # all three pairs in one row
    assert len(bins) == 1 and bins[0]["seq_lens"] == [n for u in units for n in u["seq_lens"]]
    batch = pad_bins(bins, pad_id=0)
    with torch.no_grad():
        packed = packed_target_logps(model, batch)
        packed_sums = sequence_sums(packed.token_logps, packed.target_mask, batch["segment_ids"])
    alone = []
    for unit in units:
        start = 0
        for n in unit["seq_lens"]:
            one = {"input_ids": unit["input_ids"][start : start + n], "labels": unit["labels"][start : start + n]}
            single = pad_bins([make_bin([one])], pad_id=0)
            with torch.no_grad():
                logps = packed_target_logps(model, single)
            alone.append(float(logps.token_logps.sum()))
            start += n
    assert packed_sums.tolist() == pytest.approx(alone, abs=1e-4)
    assert len(set(round(x, 3) for x in alone)) > 1  # the sequences differ, so the check could fail


def test_samples_of_one_prompt_get_their_own_seed_and_greedy_samples_are_refused():
    assert [sample_seed({"seed": 7}, k)["seed"] for k in range(3)] == [7, 8, 9]
    assert sample_seed({"seed": None}, 2) == {"seed": None}
    with pytest.raises(RecipeError, match="samples: 4 samples per prompt need sampling"):
        validate_recipe({"type": "synth", "samples": 4})
    assert validate_recipe({"type": "synth", "samples": 4, "synth": {"sampling": {"temperature": 0.7}}})
