"""The SFT job: chat sources -> checked, held-out split, weighted rows -> one example per
conversation with assistant-only labels (Ray Data) -> multipacked sequences (Ray Data) -> the
SFT trainer on a TorchTrainer (DeepSpeed ZeRO-2), one phase per group with `mix: phased` ->
a Hugging Face export with its tokenizer and chat template, a report with loss curves."""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
import ray.data

from arctic_ray.core.cluster import current_cluster
from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.sizing import fill_unset, plan
from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.chat_blocks import ChatBlocks
from arctic_ray.data.chat_examples import examples_of, read_chat_sources
from arctic_ray.data.multipack import bins_of
from arctic_ray.methods.sft.recipe import SFTRecipe, group_of
from arctic_ray.methods.sft.report import render_report, write_plots
from arctic_ray.methods.sft.trainer import SFTMethod
from arctic_ray.models.causal_lm import tokenizer_pad_id
from arctic_ray.models.ref import ModelRef
from arctic_ray.train import sequence_parallel
from arctic_ray.train.run import Phase, TrainRun
from arctic_ray.train.torch_trainer import export_location, run_trainer, train_metrics


def packed(run: JobRun, rows: ChatBlocks, model: ModelRef, recipe: SFTRecipe, counts) -> ray.data.Dataset:
    """Packed sequences of `rows` (in whole optimizer steps per rank); dropped examples go to
    rejects, every outcome is counted."""
    examples, dropped = examples_of(rows, model, recipe.data, counts)
    run.set_aside(dropped)
    per_step = recipe.micro_batch_size * recipe.gradient_accumulation_steps
    return bins_of(examples, recipe.data.pack, recipe.data.max_length, recipe.workers.num_workers, per_step)


def _lengths(block: pa.Table) -> pa.Table:
    return pa.table({"n": pc.list_value_length(block.column("input_ids"))})


def _column_sum(ds: ray.data.Dataset, column: str) -> int:
    """The sum of one column, 0 for an empty dataset (Ray types `sum` for a list of columns too)."""
    return int(cast(float | None, ds.sum(column)) or 0)


def real_tokens(bins: ray.data.Dataset) -> int:
    return _column_sum(bins.map_batches(_lengths, batch_format="pyarrow"), "n")


def phase_steps(bins: int, recipe: SFTRecipe) -> int:
    return (bins // recipe.rows_per_step) * recipe.epochs


@job("sft", SFTRecipe)
def run_sft(recipe: SFTRecipe, run_dir: str | None = None) -> dict:
    run = JobRun(recipe, run_dir)
    model = ModelRef.of(recipe.model.name_or_path)
    pad = tokenizer_pad_id(model)
    init_ray(recipe.ray)
    with run.stage("read", "read and check the chat sources"):
        rows = read_chat_sources(
            recipe.data.sources, recipe.data.eval_fraction, recipe.data.seed, group_of, keep=ray.put
        )
        run.set_aside(rows.rejects)
    p = plan(current_cluster(), online=False)
    recipe = recipe.model_copy(
        update={
            "workers": fill_unset(
                recipe.workers,
                num_workers=p.workers,
                cpus_per_worker=p.cpus_per_worker,
                gpus_per_worker=p.gpus_per_worker,
            )
        }
    )
    sequence_parallel.check_plan(recipe, model, recipe.data.max_length)
    layout = sequence_parallel.layout(recipe, recipe.data.max_length)
    print(f"[sft] {p.lines()[0]} (fields the recipe sets win); {sequence_parallel.describe(layout)}", flush=True)
    datasets, phases = {}, []
    data: dict[str, Any] = {"bins": 0, "examples": 0, "tokens": 0, "max_length": recipe.data.max_length}
    with run.stage("pack", "tokenize (assistant tokens only) and pack"):
        groups = rows.groups if recipe.data.mix == "phased" else {"all": rows.train}
        for i, (group, group_rows) in enumerate(groups.items()):
            bins = packed(run, group_rows, model, recipe, rows.counts)
            n = bins.count()
            data["bins"] += n
            data["examples"] += _column_sum(bins, "num_examples")
            data["tokens"] += real_tokens(bins)
            datasets[f"train{i}"] = bins
            phases.append(Phase(f"train{i}", None if i == len(groups) - 1 else phase_steps(n, recipe)))
            print(f"[sft] {group}: {n} sequences", flush=True)
        if rows.eval:
            datasets["eval"] = packed(run, rows.eval, model, recipe, rows.counts)
    efficiency = data["tokens"] / max(data["bins"] * recipe.data.max_length, 1)
    data.update(sources={k: dict(v) for k, v in rows.counts.items()}, phases=list(groups), efficiency=efficiency)
    with run.stage(
        "train", f"SFT on {recipe.workers.num_workers} workers (DeepSpeed ZeRO-{recipe.workers.zero_stage})"
    ):
        result = run_trainer(
            TrainRun(
                trainer="sft",
                train=recipe,
                method=SFTMethod(model, recipe.model, pad),
                datasets=datasets,
                storage=run.loc,
                name="train",
                phases=phases,
                num_rows=datasets[phases[-1].dataset].count(),
                seed=recipe.seed,
            )
        )
        train = train_metrics(result)
    history = train["history"]
    train["padding_fraction"] = sum(h.get("padding_fraction", 0.0) for h in history) / max(len(history), 1)
    export_dir = export_location(result, run.loc)
    run.count(rejected=sum(c.get("rejected", 0) for c in rows.counts.values()))
    metrics = {"model": recipe.model.name_or_path, "data": data, "train": train, "export_dir": export_dir}
    metrics["sequence_layout"] = layout
    metrics["plots"] = write_plots(run, train)
    return run.finish(metrics, render_report)
