"""A job: a name, its recipe class and the function that runs a recipe. A method's folder
registers its job where the run function is defined (`@job("sft", SFTRecipe)`); the job table
(`arctic_ray/jobs.py`) finds every registered job by discovery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arctic_ray.core.recipe import Recipe
from arctic_ray.core.registry import register


@dataclass(frozen=True)
class Job:
    name: str
    recipe: type[Recipe]
    run: Callable[..., dict]


def job(name: str, recipe: type[Recipe]):
    """Decorator on the function that runs a recipe of `recipe`'s class."""

    def wrap(fn):
        register("job", name, Job(name, recipe, fn))
        return fn

    return wrap
