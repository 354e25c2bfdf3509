"""Running the main job in a test: the overrides that make it fast on the tiny model, the
environment of a subprocess run, and what every finished run must hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

FAST = [
    "data.limit=40",
    "teacher.gen_seq_length=128",
    "epochs=2",
    "data.max_length=128",
    "log_every=2",
    "eval.num_prompts=4",
    "eval.max_tokens=32",
    "eval.repeats=1",
]


def run_env(cache: Path) -> dict:
    env = {**os.environ, "ARCTIC_RAY_CACHE": str(cache), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    env.pop("RAY_ADDRESS", None)
    return env


def overrides(out: Path, extra=()) -> list[str]:
    args = []
    for item in [*FAST, f"output_dir={out / 'runs'}", f"store={out / 'store'}", *extra]:
        args += ["--set", item]
    return args


LEAN_EVAL = ["eval.baselines=[]", "eval.k_sweep=false", "eval.batch_sizes=[1]"]
"""The vLLM eval of a run that need not repeat the full one: the drafter at its own k, batch 1."""


def check_run(run_dir: Path, vllm: bool, run_uri: str | None = None, lean: bool = False) -> dict:
    """A finished run's files (downloaded to `run_dir` when the run went to `run_uri`); `lean`: its
    vLLM eval ran with LEAN_EVAL."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    c = metrics["counts"]
    assert c["prompts_in"] == 41 and c["prompts_rejected"] == 1
    assert c["eval_prompts"] == 4 and c["train_prompts"] + c["eval_prompts"] + c["prompts_unusable"] == 40 + c.get(
        "self_instruct_added", 0
    )
    assert c["kept"] + c["duplicates_dropped"] + c["generation_errors"] == c["train_prompts"]
    assert c["train_sequences"] + c["too_short_or_long"] == c["kept"]
    generations = [json.loads(line) for f in sorted((run_dir / "generations").glob("*.json")) for line in f.open()]
    assert len(generations) == c["kept"] and all(g["completion_token_ids"] for g in generations)
    assert c["train_completion_tokens"] == sum(len(g["completion_token_ids"]) for g in generations)
    rejects = [json.loads(line) for line in (run_dir / "rejects.jsonl").open()]
    assert (rejects[0]["stage"], rejects[0]["line"]) == ("read", 1)
    train = metrics["train"]
    assert train["steps"] > 0 and train["final_loss"] < train["history"][0]["loss"]
    sim = metrics["simulated"]
    assert sim["trained"]["drafts"] > 0 and len(sim["trained"]["accept_per_pos"]) == 3
    from arctic_ray.core.storage import local_copy, location
    from arctic_ray.methods.spec_decode.drafters.eagle3.export import load_eagle3

    assert load_eagle3(local_copy(metrics["drafter_dir"])).config.ttt_steps == 3
    report = (run_dir / "report.md").read_text()
    assert f"{sim['trained']['tau_sim']:.3f}" in report and (run_uri or str(run_dir)) in report
    assert (run_dir / "training.png").stat().st_size > 0 and (run_dir / "acceptance.png").stat().st_size > 0
    if vllm and lean:
        v = metrics["vllm"]
        assert set(v) == {"none", "drafter"} and v["drafter"]["greedy"]["drafts"] > 0
        assert v["drafter"]["outputs_equal_plain"] >= 0.75 and set(v["none"]["tok_s"]) == {"1"}
        assert metrics["serving"]["best_num_speculative_tokens"] == {"1": 3}
    elif vllm:
        v = metrics["vllm"]
        names = {"none", "ngram", "suffix", "suffix_nocache", "drafter_k1", "drafter_k2", "drafter"}
        assert set(v) == names and v["drafter"]["greedy"]["drafts"] > 0
        assert v["drafter"]["outputs_equal_plain"] >= 0.75
        batch_sizes = set(v["none"]["tok_s"])
        assert batch_sizes == {"1", "2"}  # the tiny recipe's
        for name in ("ngram", "suffix", "suffix_nocache"):  # the baselines, same prompts and batch sizes
            assert (
                set(v[name]["tok_s"]) == batch_sizes
                and min(v[name]["tok_s"].values()) > 0
                and v[name]["greedy"]["drafts"] > 0
            )
            assert "sampled" not in v[name]
        # suffix decoding as servers run it, its cache warmed on training prompts; and with it off
        assert v["suffix"]["speculative_config"] == {"method": "suffix", "num_speculative_tokens": 8}
        assert v["suffix"]["suffix_cache_warm"] == min(32, c["train_prompts"])
        assert v["suffix_nocache"]["speculative_config"]["suffix_decoding_max_cached_requests"] == 0
        # every engine timed on the foreign set too, at the same batch sizes
        # the tiny recipe times the first 8 of the foreign set
        assert c["foreign_prompts"] + c["foreign_contaminated"] + c.get("foreign_unusable", 0) == 8
        assert c["foreign_prompts"] >= 6
        for name in names:
            assert set(v[name]["foreign"]["tok_s"]) == batch_sizes and v[name]["foreign"]["speedup"]["1"] > 0
        assert "foreign prompts (other styles)" in report and (run_dir / "throughput_foreign.png").is_file()
        # the drafter at every k up to n_predict (3), sampled only at its own
        sweep = {k: v["drafter" if k == 3 else f"drafter_k{k}"] for k in (1, 2, 3)}
        assert all(
            r["speculative_config"]["num_speculative_tokens"] == k and set(r["tok_s"]) == batch_sizes
            for k, r in sweep.items()
        )
        assert "sampled" in v["drafter"] and "sampled" not in sweep[1] and "sampled" not in sweep[2]
        # the export says which k to serve at each measured batch size: the fastest measured
        config = json.loads(location(metrics["drafter_dir"]).join("config.json").read_text())
        serving = config["arctic_ray_serving"]
        assert serving == metrics["serving"] and set(serving["best_num_speculative_tokens"]) == batch_sizes
        for bs in batch_sizes:
            rates = {k: r["tok_s"][bs] for k, r in sweep.items()}
            assert serving["best_num_speculative_tokens"][bs] == max(rates, key=rates.get)
        assert serving["measured_on"].startswith("vLLM 0.32") and "CPU" in serving["measured_on"]
        assert "![throughput](throughput.png)" in report and (run_dir / "throughput.png").is_file()
        assert "| suffix | 1 |" in report and "## Number of speculative tokens k, by batch size" in report
    else:
        assert metrics["vllm"] is None and metrics["serving"] is None
    return metrics
