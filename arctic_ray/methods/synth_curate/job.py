"""The synthesis job: request rows in (JSONL / parquet / HF dataset on disk), completions out
(parquet and JSONL), through any registered backend behind the generation store. Nothing paid
for is lost: answers are stored as they arrive, a rerun (`--resume RUN_DIR`, or the same recipe)
sends only what has no stored answer, and every row ends in `completions` or `errors`."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from arctic_ray.core.commands import command
from arctic_ray.core.recipe import job, load_as
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.tables import TableWriter
from arctic_ray.curate.chain import run_chain
from arctic_ray.data.prompts import read_prompts
from arctic_ray.methods.synth_curate.recipe import SynthRecipe
from arctic_ray.synth.backend import target_for
from arctic_ray.synth.dry_run import estimate_cost
from arctic_ray.synth.synthesize import Tally, synthesize

OUTPUT_DROP = ("key", "from_store")


def render_summary(metrics: dict) -> str:
    t = metrics["tally"]
    lines = [
        f"# synth: {metrics['backend']} / {metrics['model']}",
        "",
        "| ok | failed | refused | from store | sent | re-sent after a crash | prompt tokens | completion tokens "
        "| spend (USD) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {t['ok']} | {t['failed']} | {t['refused']} | {t['from_store']} | {t['sent']} | {t['resent_after_crash']} "
        f"| {t['prompt_tokens']} | {t['completion_tokens']} | {t['spend_usd']:.4f} |",
        "",
        "Completions: `completions.jsonl`, `completions/` (parquet). "
        "Failed and refused rows, with their reason: `errors.jsonl`, `errors/`.",
    ]
    if any(metrics.get("backend_counts", {}).values()):
        counts = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in metrics["backend_counts"].items())
        lines += ["", f"Backend: {counts}."]
    if metrics.get("curation"):
        lines += [
            "",
            "Curation (`curated/`; removed rows with their stage and reason in `curation_rejects/`):",
            "",
            "| step | rows in | removed | seconds |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {c['stage']} | {c['rows_in']} | {c['removed']} | {c['seconds']:.1f} |" for c in metrics["curation"]
        ]
        lines += [
            f"\n{c['stage']}'s backend: "
            + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in c["backend"].items())
            + "."
            for c in metrics["curation"]
            if any(c.get("backend", {}).values())
        ]
    if t["errors"]:
        lines += ["", "Failures by reason:", ""] + [
            f"- {n} × {reason}" for reason, n in sorted(t["errors"].items(), key=lambda kv: -kv[1])
        ]
    return "\n".join(lines) + "\n"


@job("synth", SynthRecipe)
def run_synth(recipe: SynthRecipe, run_dir: str | None = None) -> dict:
    source = recipe.input
    prompts = source.snowflake.read() if source.snowflake else read_prompts(source.prompts, source.limit)
    run = JobRun(recipe, run_dir)
    target = target_for(recipe.model, recipe.synth, recipe.store, str(run.dir))
    if recipe.dry_run:
        estimate = estimate_cost(prompts.rows, recipe.synth, target, recipe.samples)
        estimate.refused += len(prompts.rejects)
        return run.finish(
            {"backend": recipe.synth.backend, "model": recipe.model, "dry_run": estimate.as_dict()},
            lambda m: estimate.describe() + "\n",
        )
    init_ray(recipe.ray)
    tally = Tally(refused=len(prompts.rejects))
    errors = TableWriter(run.loc, "errors")
    for reject in prompts.rejects:
        errors.add({"id": None, "reason": reject["reason"], "where": reject["where"], "row": reject["row"]})
    completions = TableWriter(run.loc, "completions")
    backend_counts: dict = {}
    with run.stage("generate", f"generate with {recipe.synth.backend} ({recipe.model})"):
        result = synthesize(prompts.rows, recipe.synth, target, recipe.samples)
        for refused in result.refused:
            errors.add({"id": refused["id"], "reason": refused["reason"], "row": refused["row"]})
        tally.refused += len(result.refused)
        gen = result.generation
        if gen is not None:
            tally.from_store, tally.sent, tally.resent_after_crash = gen.reused, gen.sent, 0
            bar = tqdm(total=gen.reused + gen.sent, unit="row", desc="synth", dynamic_ncols=True)
            for row in gen.rows.iter_rows():
                tally.add(row, recipe.synth, bool(row.get("from_store")))
                out = {k: v for k, v in row.items() if k not in OUTPUT_DROP}
                (errors if row.get("error") else completions).add(
                    {**out, "reason": row["error"]} if row.get("error") else out
                )
                bar.update(1)
                bar.set_postfix(
                    tokens=tally.prompt_tokens + tally.completion_tokens,
                    usd=f"{tally.spend_usd:.4f}",
                    failed=tally.failed,
                    refresh=False,
                )
            bar.close()
            tally.resent_after_crash = gen.resent  # known once the backend has sent what it sends
            # e.g. vllm's engine restarts, retried batches and rows that killed the engine
            backend_counts = recipe.synth.report(target) if gen.sent else {}
    completions.close()
    errors.close()
    run.count(ok=tally.ok, failed=tally.failed, refused=tally.refused)
    metrics = {
        "backend": recipe.synth.backend,
        "model": recipe.model,
        "tally": tally.as_dict(),
        "backend_counts": backend_counts,
    }
    if recipe.curate and completions.rows:
        with run.stage("curate", "curate: " + " -> ".join(step.stage for step in recipe.curate)):
            metrics["curation"] = curate(run, recipe.curate)
    # what a later job trains on: the curated rows, or every completion when nothing judged them
    metrics["kept"] = run.at("curated" if metrics.get("curation") else "completions").uri
    return run.finish(metrics, render_summary)


def curate(run: JobRun, steps: list) -> list[dict]:
    """The judge chain over the completions table: `curated/` (parquet) and `curation_rejects/`."""
    import ray.data

    fs = run.loc.fs
    chain = run_chain(ray.data.read_parquet(run.at("completions").path, filesystem=fs), steps)
    chain.kept.write_parquet(run.at("curated").emptied().path, filesystem=fs)
    rejects = chain.rejects[0].union(*chain.rejects[1:]) if len(chain.rejects) > 1 else chain.rejects[0]
    rejected = run.at("curation_rejects").emptied()  # a rerun's rejects replace the earlier run's
    if rejects.count():
        rejects.write_json(rejected.path, filesystem=fs)
    print(chain.describe(), flush=True)
    return [vars(c) for c in chain.counts]


def _synth_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("recipe", nargs="?", help="recipe YAML file")
    cmd.add_argument("--dry-run", action="store_true", help="estimate tokens and cost, send nothing")
    cmd.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="run the recipe of RUN_DIR again: only rows without a stored answer are sent",
    )
    cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")


@command("synth", help="run a synthesis recipe (type: synth)", configure=_synth_arguments)
def _run_synth_command(args: argparse.Namespace) -> int:
    overrides = [*args.set, *(["dry_run=true"] if args.dry_run else [])]
    run_synth(load_as(SynthRecipe, args.recipe, overrides, args.resume), args.resume)
    return 0
