"""The main job: prompts -> vLLM generations -> MinHash dedup -> speculator training on a
TorchTrainer with DeepSpeed ZeRO-2 -> acceptance evaluation -> a run directory.

Each step is one call; copy this file to build another pipeline."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import ray
import ray.data

from arctic_ray.config.recipe import SpecDecodeRecipe
from arctic_ray.curate.minhash_dedup import minhash_dedup
from arctic_ray.data.prompts import read_prompts
from arctic_ray.data.speculator_samples import to_speculator_samples
from arctic_ray.eval.report import write_report
from arctic_ray.eval.speculator_eval import evaluate_holdout
from arctic_ray.jobs.run_dir import append_jsonl, new_run_dir, write_json, write_recipe
from arctic_ray.models.resolve import resolve_model
from arctic_ray.registry import lookup, registered
from arctic_ray.runtime import init_ray
from arctic_ray.synth.schema import failed
from arctic_ray.synth import vllm_stage  # noqa: F401  (registers the vllm backend)
from arctic_ray.train.torch_trainer import run_trainer
from arctic_ray.trainers.base import EXPORT_DIR


def _stage(name: str) -> float:
    print(f"\n[arctic_ray] === {name} ===", flush=True)
    return time.time()


def _in_holdout(row_id: str, fraction: float) -> bool:
    # A stable hash (Python's hash() changes per process): the same ids are held out every run.
    return zlib.crc32(row_id.encode()) % 10_000 < fraction * 10_000


def _write(ds: ray.data.Dataset, path: Path) -> int:
    n = ds.count()
    if n:
        ds.write_json(str(path))
    return n


@registered("job", "spec_decode")
def run_spec_decode(recipe: SpecDecodeRecipe) -> dict:
    started = time.time()
    # Input problems surface first, before a run directory or a Ray cluster exists.
    prompts = read_prompts(recipe.data.prompts, recipe.data.limit)
    model_path = resolve_model(recipe.model)
    run_dir = new_run_dir(recipe.output_dir)
    write_recipe(run_dir / "recipe.yaml", recipe)
    print(f"[arctic_ray] run directory: {run_dir}", flush=True)
    rejects = run_dir / "rejects.jsonl"
    append_jsonl(rejects, prompts.rejects)
    print(f"[arctic_ray] {len(prompts.rows)} prompts, {len(prompts.rejects)} rejected", flush=True)
    init_ray(recipe.ray)
    timings: dict[str, float] = {"read": time.time() - started}

    t = _stage(f"generate with {recipe.synth.backend} ({recipe.model})")
    generate = lookup("synth_backend", recipe.synth.backend)
    blocks = -(-len(prompts.rows) // recipe.synth.batch_size)  # one engine batch per block: stages stream
    source = ray.data.from_items(prompts.rows, override_num_blocks=blocks)
    generated = generate(source, model_path, recipe.synth, recipe.model).materialize()
    errors = generated.filter(failed)
    ok = generated.filter(lambda row: not failed(row)).materialize()
    n_errors = _write(errors, run_dir / "errors")
    timings["generate"] = time.time() - t

    t = _stage("deduplicate (MinHash LSH)")
    if recipe.dedup.enabled:
        dedup = minhash_dedup(ok, recipe.dedup)
        kept = dedup.kept.materialize()
        n_duplicates = _write(dedup.duplicates, run_dir / "duplicates")
    else:
        kept, n_duplicates = ok, 0
    n_kept = _write(kept, run_dir / "generations")
    print(f"[arctic_ray] kept {n_kept}, dropped {n_duplicates} near-duplicates", flush=True)
    timings["dedup"] = time.time() - t

    t = _stage("tokenize and split")
    from transformers import AutoTokenizer

    pad_id = AutoTokenizer.from_pretrained(model_path).pad_token_id or 0
    samples, sample_rejects = to_speculator_samples(kept, recipe.train.seq_len, recipe.speculator.n_predict, pad_id)
    n_sample_rejects = append_jsonl(
        rejects, ({"stage": "tokenize", "id": r["id"], "reason": r["reject_reason"]} for r in sample_rejects.take_all())
    )
    frac = recipe.data.holdout_fraction
    holdout = samples.filter(lambda r: _in_holdout(r["id"], frac)).materialize()
    train = samples.filter(lambda r: not _in_holdout(r["id"], frac)).materialize()
    n_train, n_holdout = train.count(), holdout.count()
    print(f"[arctic_ray] {n_train} training sequences, {n_holdout} held out", flush=True)
    timings["tokenize"] = time.time() - t

    t = _stage(f"train speculator ({recipe.train.num_workers} workers, DeepSpeed ZeRO-{recipe.train.zero_stage})")
    result = run_trainer(
        "speculator",
        train.drop_columns(["id"]),
        n_train,
        recipe.train,
        {
            "model_path": model_path,
            "speculator": recipe.speculator.model_dump(),
            "seed": recipe.seed,
        },
        run_dir,
        name="train",
    )
    speculator_dir = Path(result.checkpoint.path) / EXPORT_DIR
    train_metrics = result.metrics
    timings["train"] = time.time() - t

    t = _stage("evaluate on held-out generations")
    evaluation = evaluate_holdout(model_path, str(speculator_dir), holdout, recipe)
    timings["eval"] = time.time() - t

    metrics = {
        "model": recipe.model,
        "tau": evaluation["trained"]["tau"],
        "tau_untrained": evaluation["untrained"]["tau"],
        "head_accuracy": evaluation["trained"]["head_accuracy"],
        "head_accuracy_untrained": evaluation["untrained"]["head_accuracy"],
        "greedy_agreement": evaluation["greedy_agreement"],
        "eval_sequences": evaluation["sequences"],
        "eval_decode_steps": evaluation["trained"]["decode_steps"],
        "counts": {
            "prompts_in": len(prompts.rows) + len(prompts.rejects),
            "prompts_rejected": len(prompts.rejects),
            "generation_errors": n_errors,
            "duplicates_dropped": n_duplicates,
            "kept": n_kept,
            "too_short_or_long": n_sample_rejects,
            "train_sequences": n_train,
            "holdout_sequences": n_holdout,
        },
        "train": dict(train_metrics),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "wall_s": round(time.time() - started, 1),
        "speculator_dir": str(speculator_dir),
        "run_dir": str(run_dir),
    }
    write_json(run_dir / "metrics.json", metrics)
    write_report(run_dir / "report.md", metrics)
    print((run_dir / "report.md").read_text(), flush=True)
    return metrics
