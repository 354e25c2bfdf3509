"""The DPO job: preference pairs (any of TRL's formats, or the preference job's output) checked,
a held-out share set aside -> each pair tokenized as one unit (final turns trained) -> the
reference's log-probs as a Ray Data stage, stored and reused by key -> pairs packed whole ->
DPO on a TorchTrainer (DeepSpeed ZeRO-2), evaluated on the held-out pairs before, every
`eval_every` and at the end -> a Hugging Face export -> optionally the held-out check (greedy
verified accuracy in vLLM before and after) -> a report with the curves."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import ray.data

from arctic_ray.core.cluster import current_cluster
from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.sizing import fill_unset, plan
from arctic_ray.core.storage import location
from arctic_ray.data.multipack import bins_of
from arctic_ray.methods.dpo.heldout import held_out_check
from arctic_ray.methods.dpo.loss import REFERENCE_FREE
from arctic_ray.methods.dpo.pairs import read_pairs
from arctic_ray.methods.dpo.recipe import DPORecipe
from arctic_ray.methods.dpo.reference import REF_COLUMN, reference_key, with_reference_logps
from arctic_ray.methods.dpo.report import render_report, write_plots
from arctic_ray.methods.dpo.trainer import DPOMethod
from arctic_ray.methods.dpo.units import pair_units
from arctic_ray.models.causal_lm import tokenizer_pad_id
from arctic_ray.models.ref import ModelRef
from arctic_ray.train import sequence_parallel
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import export_location, run_trainer, train_metrics


def _usable_units(run: JobRun, units: ray.data.Dataset, counts: Counter) -> ray.data.Dataset:
    """Units that can train; the dropped go to rejects with the reason, every outcome counted."""
    dropped = []
    for row in units.select_columns(["id", "outcome"]).iter_rows():
        counts[row["outcome"]] += 1
        if row["outcome"].startswith("dropped"):
            dropped.append({"stage": "tokenize", "id": row["id"], "reason": row["outcome"]})
    run.set_aside(dropped)
    return units.filter(lambda r: not r["outcome"].startswith("dropped"))


@dataclass
class DPOData:
    """What the trainer reads: packed bins of the training and held-out pairs, and what became of them."""

    recipe: DPORecipe
    """The recipe with the worker group sized from the cluster."""
    policy: ModelRef
    reference: ModelRef
    pad_id: int
    datasets: dict[str, ray.data.Dataset]
    info: dict
    """Counts of pairs and tokenizing outcomes, packed rows, and the reference stage's keys."""


def prepare(recipe: DPORecipe, run: JobRun) -> DPOData:
    """Pairs read and checked, tokenized as units, their reference log-probs attached (computed or
    read back by key), packed: the DPO job's data stages, which the benchmark shares."""
    policy, reference = ModelRef.of(recipe.model.name_or_path), ModelRef.of(recipe.reference_name)
    pad = tokenizer_pad_id(policy)
    with run.stage("read", "read and check the preference pairs"):
        pairs = read_pairs(recipe.data.sources, recipe.data.eval_sources, recipe.data.eval_fraction)
        run.set_aside(pairs.rejects)
    init_ray(recipe.ray)
    p = plan(current_cluster(), online=False)
    workers = fill_unset(
        recipe.workers, num_workers=p.workers, cpus_per_worker=p.cpus_per_worker, gpus_per_worker=p.gpus_per_worker
    )
    recipe = recipe.model_copy(update={"workers": workers})
    sequence_parallel.check_plan(recipe, policy, recipe.data.max_length)
    layout = sequence_parallel.layout(recipe, recipe.data.max_length * 2)  # a row: whole pairs
    print(f"[dpo] {p.lines()[0]} (fields the recipe sets win); {sequence_parallel.describe(layout)}", flush=True)
    counts: Counter = Counter()
    sets = {"train": pairs.train, "eval": pairs.eval}
    with run.stage("tokenize", "tokenize each pair as one unit (final turns trained)"):
        units = {
            name: _usable_units(
                run, pair_units(rows, policy, recipe.data.max_length, recipe.data.max_prompt_length), counts
            )
            for name, rows in sets.items()
            if rows
        }
    precomputed = recipe.reference == "precomputed" and recipe.loss not in REFERENCE_FREE
    info: dict = {"mode": "none (reference-free loss)" if recipe.loss in REFERENCE_FREE else recipe.reference}
    if precomputed:
        settings = {
            "max_length": recipe.data.max_length,
            "max_prompt_length": recipe.data.max_prompt_length,
            "dtype": "bfloat16" if workers.gpus_per_worker else "float32",
            "attn": recipe.model.attn_implementation,
        }
        actors = recipe.reference_actors or (p.engines if workers.gpus_per_worker else 1)
        bounds = (actors, actors) if isinstance(actors, int) else actors
        with run.stage("reference", f"reference log-probs of {reference.name} (Ray Data, {bounds[1]} actor(s))"):
            for name in list(units):
                key = reference_key(reference, policy, sets[name], {**settings, "set": name})
                where = location(recipe.reference_store).join(key)
                gpus = p.gpus_per_engine if workers.gpus_per_worker else 0.0
                attn = recipe.model.attn_implementation
                units[name], reused = with_reference_logps(units[name], where, reference, attn, pad, bounds, gpus)
                info[name] = {"key": key, "where": where.uri, "reused": reused}
        info["seconds"] = run.timings.get("reference")
    per_step = recipe.micro_batch_size * recipe.gradient_accumulation_steps
    datasets = {}
    with run.stage("pack", "pack whole pairs"):
        for name, ds in units.items():
            datasets[name] = bins_of(
                ds,
                recipe.data.pack,
                recipe.data.max_length * 2,  # a unit: a chosen and a rejected response, each up to max_length
                workers.num_workers,
                per_step if name == "train" else 1,
                (REF_COLUMN,) if precomputed else (),
                multi_sequence=True,
            )
    if "train" not in datasets:
        raise ArcticRayError("no training pairs left after the held-out split and tokenizing")
    data = {
        "pairs": dict(pairs.counts),
        "tokenize": dict(counts),
        "sequences": datasets["train"].count(),
        "reference": info,
        "sequence_layout": layout,
    }
    return DPOData(recipe, policy, reference, pad, datasets, data)


def train(data: DPOData, run: JobRun, recipe: DPORecipe | None = None, name: str = "train"):
    """A DPO training run on the prepared bins (`recipe`: another variant on the same data)."""
    recipe = recipe or data.recipe
    workers = recipe.workers
    with run.stage(name, f"DPO ({recipe.loss}) on {workers.num_workers} workers (DeepSpeed ZeRO-{workers.zero_stage})"):
        return run_trainer(
            TrainRun(
                trainer="dpo",
                train=recipe,
                method=DPOMethod(data.policy, data.reference, data.pad_id, recipe),
                datasets=data.datasets,
                storage=run.loc,
                name=name,
                num_rows=data.info["sequences"],
                seed=recipe.seed,
            )
        )


@job("dpo", DPORecipe)
def run_dpo(recipe: DPORecipe, run_dir: str | None = None) -> dict:
    run = JobRun(recipe, run_dir)
    data = prepare(recipe, run)
    result = train(data, run)
    export_dir = export_location(result, run.loc)
    info = data.info
    metrics = {
        "model": recipe.model.name_or_path,
        "reference": info["reference"],
        "data": {k: v for k, v in info.items() if k != "reference"},
        "train": train_metrics(result),
        "export_dir": export_dir,
    }
    if recipe.check.prompts is not None:
        with run.stage("check", "held-out check: greedy verified accuracy before and after, in vLLM"):
            metrics["check"] = held_out_check(data.recipe, data.policy, export_dir, run)
    dropped = sum(v for k, v in info["tokenize"].items() if k.startswith("dropped"))
    run.count(rejected=info["pairs"].get("rejected", 0), dropped=dropped)
    metrics["plots"] = write_plots(run, metrics)
    return run.finish(metrics, render_report)
