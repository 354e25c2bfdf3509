"""The vLLM eval's pieces that need no engine: suffix decoding is never timed on a prompt of its
warm-up split, an engine-per-repeat case is one result (median over engines, acceptance summed),
and the report gives both eval sets."""

import pytest

from arctic_ray.methods.spec_decode.report import render_report
from arctic_ray.methods.spec_decode.spec_counters import summed
from arctic_ray.methods.spec_decode.suffix_cache import PromptsOverlap, check_disjoint
from arctic_ray.methods.spec_decode.vllm_eval import merged_repeats


def test_a_timed_prompt_that_is_also_a_warm_up_prompt_is_refused():
    check_disjoint([[1, 2], [3]], {"heldout": [[1, 2, 3]], "foreign": [[4]]})
    with pytest.raises(PromptsOverlap, match="1 of the 2 foreign prompts are also suffix warm-up prompts"):
        check_disjoint([[1, 2], [3]], {"heldout": [[9]], "foreign": [[4], [3]]})


def _run(rate: float, accepted: int, foreign_rate: float) -> dict:
    greedy = {"drafts": 10, "draft_tokens": 40, "accepted_tokens": accepted, "accept_per_pos": [accepted / 10]}
    return {
        "name": "suffix",
        "tok_s": {1: rate},
        "tok_s_repeats": {1: [rate]},
        "greedy": greedy,
        "outputs": [[rate]],
        "foreign": {"tok_s": {1: foreign_rate}, "tok_s_repeats": {1: [foreign_rate]}, "greedy": None, "outputs": []},
    }


def test_one_engine_per_repeat_merges_into_one_result():
    merged = merged_repeats([_run(30.0, 10, 3.0), _run(10.0, 20, 1.0), _run(20.0, 30, 2.0)], ["heldout", "foreign"])
    assert merged["tok_s"] == {1: 20.0} and merged["tok_s_repeats"] == {1: [30.0, 10.0, 20.0]}
    assert merged["foreign"]["tok_s"] == {1: 2.0} and merged["foreign"]["greedy"] is None
    assert merged["greedy"]["accepted_tokens"] == 60 and merged["greedy"]["acceptance_rate"] == 60 / 120
    assert merged["greedy"]["accept_per_pos"] == [2.0] and merged["outputs"] == [[30.0]]
    failed = {"name": "suffix", "error": "boom"}
    assert merged_repeats([_run(1.0, 1, 1.0), failed], ["heldout"]) == failed
    assert summed([None, None]) is None


def _case(name: str, rate: float, foreign: float, spec: dict | None = None) -> dict:
    part = {"tok_s": {1: foreign}, "speedup": {1: foreign / 10.0}, "greedy": None}
    return {"name": name, "speculative_config": spec, "tok_s": {1: rate}, "speedup": {1: rate / 20.0}, "greedy": None,
            "foreign": part}  # fmt: skip


def test_the_report_gives_the_held_out_and_the_foreign_set():
    drafter = {"method": "eagle3", "model": "/d", "num_speculative_tokens": 3}
    vllm = {
        "none": _case("none", 20.0, 10.0),
        "suffix": _case("suffix", 22.0, 15.0, {"method": "suffix"}),
        "drafter": {**_case("drafter", 30.0, 12.0, drafter), "outputs_equal_plain": 1.0},
    }
    sim = {"tau_sim": 1.5, "accept_per_pos": [0.5], "drafts": 10}
    train = {"history": [], "steps": 1, "train_seconds": 1, "final_loss": 1.0, "data_wait_s": 0, "eval_history": [],
             "target_params_held": 1, "target_params_total": 2, "target_features": "engine", "drafter_params": 3,
             "peak_rss_mb": 4}  # fmt: skip
    metrics = {"model": "m", "speculator": "eagle3", "teacher_mode": "offline", "simulated": {"untrained": sim,
               "trained": sim}, "vllm": vllm, "train": train, "counts": {}, "timings_s": {}, "wall_s": 1, "plots": {},
               "run_dir": "r", "drafter_dir": "d"}  # fmt: skip
    report = render_report(metrics)
    assert "batch 1, held-out training-style prompts: drafter 30.0 tok/s vs 20.0 without speculation (1.50x)" in report
    assert (
        "batch 1, foreign prompts (other styles): drafter 12.0 tok/s vs 10.0 without speculation (1.20x), 15.0 with "
        "suffix decoding (cache on, warmed) (1.50x)" in report
    )
    assert report.count("| drafter k=3 | 1 |") == 2  # a table per eval set
