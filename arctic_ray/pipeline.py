"""The one runner behind `arctic-ray run` and every `pipelines/*.py` script: a recipe file (or the
recipe a run directory was run with, to resume it) with `--set` overrides, run by the job its
`type` names. Recipes can run in sequence, each after the one before: `Recipe.after` takes the
earlier run's metrics and points the later recipe at its output (synthesis, then SFT on what it
kept; preference pairs, then DPO on them)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.recipe import Recipe, read_recipe, recipe_source
from arctic_ray.core.stops import RunStopped
from arctic_ray.job_table import lookup_job, validate_recipe

USER_ERRORS = (ArcticRayError, FileNotFoundError)
"""Errors that are the user's to fix: printed as one line, not a traceback from deep inside Ray."""

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Step:
    """One recipe of a sequence: a file (or a run directory's recipe, with `resume`) and overrides."""

    recipe: str | None
    overrides: list[str] = field(default_factory=list)
    resume: str | None = None


def load_step(step: Step) -> Recipe:
    source = recipe_source(step.recipe, step.resume)
    return validate_recipe(read_recipe(source, step.overrides), source=source)


def run_sequence(steps: list[Step], expect_job: str | None = None) -> list[dict]:
    """Run each recipe in order, each after the one before; every recipe is validated before the
    first runs, so a typo in the last stops the sequence before anything is paid for. Returns
    each run's metrics."""
    recipes = [load_step(step) for step in steps]
    recipes = [r.before(recipes[i + 1]) if i + 1 < len(recipes) else r for i, r in enumerate(recipes)]
    if expect_job and recipes[-1].type != expect_job:
        raise ArcticRayError(f"{steps[-1].recipe or steps[-1].resume} is a {recipes[-1].type} recipe, not {expect_job}")
    results: list[dict] = []
    for step, recipe in zip(steps, recipes, strict=True):
        if results:
            recipe = recipe.after(results[-1])
        results.append(run_resuming_after_node_loss(recipe, step.resume))
    return results


def run_resuming_after_node_loss(recipe: Recipe, resume: str | None) -> dict:
    """The recipe's job; when a node dies under it (`RunStopped` says so), the run goes on from
    its run directory (last checkpoint, stored generations) up to `ray.resume_after_node_loss`
    times: the failed stage's actors went with the node, and a resume places them again, on the
    nodes left or the ones the autoscaler brings. Other deaths are Ray's to retry (engine and
    training-worker restarts) or the user's to resume."""
    job = lookup_job(recipe.type)
    limit = recipe.ray.resume_after_node_loss
    losses = 0
    while True:
        try:
            return job.run(recipe, resume)
        except RunStopped as stop:
            if stop.what != "node" or stop.run_dir is None or losses == limit:
                raise
            losses += 1
            print(f"[arctic_ray] {stop}\n[arctic_ray] resuming after the lost node ({losses} of {limit})", flush=True)
            resume = stop.run_dir


def run_file(path: str, overrides: list[str] | None = None, resume: str | None = None) -> dict:
    """One recipe file run (or `resume`d): its metrics."""
    return run_sequence([Step(path, list(overrides or []), resume)])[-1]


@dataclass(frozen=True)
class Before:
    """A recipe a pipeline script can run first (`--synth RECIPE` before SFT)."""

    flag: str
    help: str
    default: str | None = None
    """A recipe under examples/ run first unless the flag says otherwise (`--flag none` skips it)."""


def script_main(
    job: str,
    recipe: str,
    doc: str | None,
    tiny: str | None = None,
    before: Before | None = None,
    switches: dict[str, tuple[str, str]] | None = None,
    argv: list[str] | None = None,
) -> int:
    """A `pipelines/<job>.py` script: its default recipe (`examples/<recipe>`), `--recipe`, `--tiny`
    (`examples/<tiny>`), `--set`, `--resume RUN_DIR`, an optional recipe to run first, and
    `switches` (flag -> (override, help), e.g. `--dry-run` -> `dry_run=true`)."""
    p = argparse.ArgumentParser(
        prog=f"pipelines/{job}.py", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--recipe", help=f"recipe YAML (default: examples/{recipe})")
    if tiny:
        p.add_argument("--tiny", action="store_true", help=f"use examples/{tiny}")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="run the recipe of RUN_DIR again, into it (stored generations are reused)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    if before:
        p.add_argument(before.flag, metavar="RECIPE", dest="before", help=before.help)
        p.add_argument(
            f"{before.flag}-set",
            action="append",
            default=[],
            dest="before_set",
            metavar="KEY=VALUE",
            help=f"override a field of the {before.flag} recipe",
        )
    for flag, (_, help_) in (switches or {}).items():
        p.add_argument(flag, action="store_true", help=help_)
    args = p.parse_args(argv)
    overrides = [
        *args.set,
        *(o for flag, (o, _) in (switches or {}).items() if getattr(args, flag.lstrip("-").replace("-", "_"))),
    ]
    chosen = args.recipe or str(EXAMPLES / (tiny if tiny and args.tiny else recipe))
    steps = [Step(None if args.resume else chosen, overrides, args.resume)]
    first = (args.before or (str(EXAMPLES / before.default) if before.default else None)) if before else None
    if first and first != "none" and not args.resume:
        steps.insert(0, Step(first, args.before_set))
    try:
        run_sequence(steps, expect_job=job)
    except USER_ERRORS as err:
        print(f"{job}: error: {err}", file=sys.stderr)
        return 2
    return 0
