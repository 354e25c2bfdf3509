"""SwiftKV distillation on Ray Train (DeepSpeed ZeRO-2, two workers) lowers the held-out KL."""

from __future__ import annotations

from pathlib import Path

import pytest

from arctic_ray.job_table import load_recipe
from arctic_ray.methods.swiftkv.load import load_swiftkv
from tests.support.files import ROOT


def test_distillation_lowers_the_held_out_kl(ray_local, tiny_model, tmp_path):
    from arctic_ray.job_table import run_recipe

    recipe = load_recipe(
        ROOT / "examples" / "swiftkv_tiny.yaml",
        [f"output_dir={tmp_path}", f"model.name_or_path={tiny_model}", "max_steps=12", "eval_every=6"],
    )
    metrics = run_recipe(recipe)
    evals = metrics["train"]["eval_history"]
    assert [e["step"] for e in evals] == [0, 6, 12]
    assert evals[-1]["eval_kl"] < 0.8 * evals[0]["eval_kl"]
    assert evals[-1]["eval_top1_agreement"] >= evals[0]["eval_top1_agreement"]
    assert evals[0]["teacher_eval_loss"] == pytest.approx(evals[-1]["teacher_eval_loss"])  # the teacher stays frozen
    params = metrics["train"]["parameters"]
    assert 0 < params["trainable"] < params["frozen"]
    pre = metrics["prefill"]
    assert pre["kv_layer_tokens"] == pre["prompt_tokens"] and pre["later_layer_tokens"] == pre["prompts"]
    assert pre["flops_ratio"] < 0.8 and pre["kv_cache_ratio"] == 1.0
    run_dir = Path(metrics["run_dir"])
    assert (run_dir / "distill.png").stat().st_size > 0 and "top-1 agreement" in (run_dir / "report.md").read_text()
    assert load_swiftkv(metrics["export_dir"]).num_key_value_layers == 2
