"""The best number of speculative tokens per batch size, from measured numbers (no engine), and
the cases the vLLM eval runs for a recipe."""

import json

import pytest

from arctic_ray.core.recipe import RecipeError
from arctic_ray.job_table import validate_recipe
from arctic_ray.methods.spec_decode.eval_config import SpecDecodeEvalConfig
from arctic_ray.methods.spec_decode.serving import SERVING_KEY, best_k, record_serving
from arctic_ray.methods.spec_decode.vllm_eval import spec_cases


def _case(tok_s: dict, k: int | None = None, method: str = "eagle3") -> dict:
    spec = (
        None
        if method is None
        else {"method": method, "num_speculative_tokens": k, **({"model": "/d"} if method == "eagle3" else {})}
    )
    return {"speculative_config": spec, "measured_on": "vLLM 0.32.0, CPU x (2 threads), float32", "tok_s": tok_s}


MEASURED = {
    "none": _case({1: 100.0, 8: 400.0}, method=None),
    "suffix": _case({1: 300.0, 8: 900.0}, 8, "suffix"),  # faster, but no drafter: never a k for the drafter
    "drafter_k1": _case({1: 120.0, 8: 480.0}, 1),
    "drafter_k2": _case({1: 150.0, 8: 440.0}, 2),
    "drafter": _case({1: 140.0, 8: 420.0}, 3),
    "drafter_k4": {
        "speculative_config": {"method": "eagle3", "model": "/d", "num_speculative_tokens": 4},
        "error": "RuntimeError: no",
    },
}


def test_best_k_is_the_drafters_fastest_k_at_each_batch_size():
    table = best_k(MEASURED)
    assert table["best_num_speculative_tokens"] == {"1": 2, "8": 1}
    assert table["tok_s"] == {"1": {"1": 120.0, "2": 150.0, "3": 140.0}, "8": {"1": 480.0, "2": 440.0, "3": 420.0}}
    assert table["speedup_vs_none"]["1"] == {"1": 1.2, "2": 1.5, "3": 1.4}
    assert table["measured_on"].startswith("vLLM 0.32.0")
    assert json.loads(json.dumps(table)) == table  # as written into config.json
    assert best_k({"none": MEASURED["none"], "suffix": MEASURED["suffix"]}) is None  # no drafter served
    assert "speedup_vs_none" not in best_k({**MEASURED, "none": {"error": "x"}})


def test_record_serving_adds_the_table_to_the_exports_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "draft_vocab_size": 256}))
    table = record_serving(str(tmp_path), MEASURED)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "llama" and config[SERVING_KEY] == table
    assert record_serving(str(tmp_path), None) is None


def test_cases_sweep_the_drafters_k_and_sample_only_at_its_own():
    cases = spec_cases("/d", "eagle3", 3, SpecDecodeEvalConfig(suffix_tokens=6))
    assert [c.name for c in cases] == [
        "none",
        "ngram",
        "suffix",
        "suffix_nocache",
        "drafter_k1",
        "drafter_k2",
        "drafter",
    ]
    assert [c.speculative_config["num_speculative_tokens"] for c in cases[1:]] == [3, 6, 6, 1, 2, 3]
    # suffix decoding as servers run it (cache on, warmed, an engine per repeat) and with its cache off
    assert [c.name for c in cases if c.warm_cache] == ["suffix"]
    assert cases[3].speculative_config["suffix_decoding_max_cached_requests"] == 0
    assert [c.name for c in cases if c.sampled and c.speculative_config] == ["drafter"]
    assert [c.name for c in spec_cases(None, None, 3, SpecDecodeEvalConfig(baselines=["suffix"]))] == ["none", "suffix"]
    with pytest.raises(RecipeError, match="eval.baselines"):
        validate_recipe({"eval": {"baselines": ["ngram", "medusa"]}})
