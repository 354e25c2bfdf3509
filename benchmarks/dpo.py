"""DPO two ways on the same pairs, in one run: SmolLM2-135M-Instruct, fp32, the pairs of
examples/preference_verify.yaml (its run is cached in the generation store: a rerun generates
nothing), the same packed rows of pairs so every step sees the same pairs and tokens:

  ours:     the reference's log-probs precomputed by the Ray Data stage (its time counted in),
            pairs packed into rows (padding-free); each worker holds one model.
  baseline: the reference in the trainer (a second model in every worker, run every step), and
            each pair its own row padded to the longest pair of the micro-batch (TRL and
            ArcticTraining's layout).

    python benchmarks/dpo.py
    python benchmarks/dpo.py --pairs runs/preference/<stamp>/pairs   # pairs you already have
    python benchmarks/dpo.py --tiny                                  # the tiny model on the shipped pairs

Prints: dpo: pairs=N ours_pairs_s=X baseline_pairs_s=Y speedup=X/Y loss_diff=D padding_ours=A
padding_baseline=B worker_params=P/Q ref_stage_s=R   (one line, wrapped here; P/Q: parameters held
per worker, ours/baseline; loss_diff: the largest difference between the runs' per-step losses)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from arctic_ray.core.run_dir import JobRun
from arctic_ray.job_table import load_recipe
from arctic_ray.methods.dpo.job import prepare, train
from arctic_ray.methods.dpo.recipe import DPORecipe
from arctic_ray.pipeline import run_file
from arctic_ray.train.torch_trainer import train_metrics

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", help="a pairs directory or file (default: run examples/preference_verify.yaml)")
    p.add_argument("--tiny", action="store_true", help="the tiny model on examples/data/dpo/pairs.jsonl")
    p.add_argument("--steps", type=int, default=24, help="optimizer steps of each run")
    args = p.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="bench-dpo-"))
    if args.tiny:
        pairs, model = str(EXAMPLES / "data/dpo/pairs.jsonl"), "tiny"
    else:
        model = "smollm2-135m-instruct"
        pairs = (
            args.pairs or run_file(str(EXAMPLES / "preference_verify.yaml"), [f"output_dir={out}/preference"])["pairs"]
        )
    overrides = [
        f"model.name_or_path={model}",
        f"data.sources=[{{path: {pairs}}}]",
        "data.eval_fraction=0.0",
        f"output_dir={out}/dpo",
        f"reference_store={out}/reference",  # a fresh store: the stage's time is measured, not read back
        f"max_steps={args.steps}",
        "log_every=1",
        "check.prompts=null",
    ]
    recipe = load_recipe(EXAMPLES / ("dpo.yaml" if args.tiny else "dpo_smollm2.yaml"), overrides)
    assert isinstance(recipe, DPORecipe)
    run = JobRun(recipe)
    data = prepare(recipe, run)
    ours = train_metrics(train(data, run, name="ours"))
    baseline_recipe = data.recipe.model_copy(
        update={"reference": "in_trainer", "data": data.recipe.data.model_copy(update={"padding_free": False})}
    )
    baseline = train_metrics(train(data, run, baseline_recipe, name="baseline"))
    steps = min(len(ours["history"]), len(baseline["history"]))
    pairs_trained = _pairs(ours, steps)
    ref_s = run.timings.get("reference", 0.0)
    ours_rate = pairs_trained / (ours["train_seconds"] + ref_s)
    base_rate = pairs_trained / baseline["train_seconds"]
    diff = max(abs(a["loss"] - b["loss"]) for a, b in zip(ours["history"], baseline["history"], strict=False))

    def padding(m: dict) -> float:
        return sum(h["padding_fraction"] for h in m["history"]) / len(m["history"])

    print(
        f"dpo: pairs={pairs_trained} ours_pairs_s={ours_rate:.3f} baseline_pairs_s={base_rate:.3f} "
        f"speedup={ours_rate / base_rate:.2f} loss_diff={diff:.2e} padding_ours={padding(ours):.3f} "
        f"padding_baseline={padding(baseline):.3f} worker_params={ours['parameters_held_per_worker']}/"
        f"{baseline['parameters_held_per_worker']} ref_stage_s={ref_s:.1f}",
        flush=True,
    )


def _pairs(metrics: dict, steps: int) -> int:
    """Pairs the run trained on in its first `steps` steps (every step logs its pair count)."""
    return int(round(sum(h["pairs"] for h in metrics["history"][:steps])))


if __name__ == "__main__":
    main()
