"""The job table: every job by name, with its recipe class and run function. Jobs register in
their method's folder (`arctic_ray/methods/<name>/job.py`, or any plugin module) and are found
by discovery; nothing in the package below this module imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arctic_ray.core.recipe import Job, Recipe, RecipeError, read_recipe, validate_against
from arctic_ray.core.registry import home, lookup, names

home("job", "arctic_ray.methods")
DEFAULT_JOB = "spec_decode"


def lookup_job(name: str) -> Job:
    return lookup("job", name)


def job_names() -> list[str]:
    return names("job")


def validate_recipe(raw: Any, source: str = "recipe") -> Recipe:
    """A recipe mapping validated against the recipe class of the job its `type` names."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: a recipe is a YAML mapping, got {type(raw).__name__}")
    if "job" in raw:
        raise RecipeError(f"{source}: job: moved to type (`type: {raw['job']}`)")
    kind = raw.get("type", DEFAULT_JOB)
    if kind not in job_names():
        raise RecipeError(f"{source}: type: unknown job {kind!r}; known: {', '.join(job_names())}")
    return validate_against(lookup_job(kind).recipe, raw, source, kind)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    return validate_recipe(read_recipe(path, overrides), source=str(path))


def run_recipe(recipe: Recipe, run_dir: str | None = None) -> dict:
    return lookup_job(recipe.type).run(recipe, run_dir)
