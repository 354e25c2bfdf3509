"""The job table: each job is a name, its recipe class and the function that runs it. Importing
this package registers every job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from arctic_ray.config.base import StrictConfig
from arctic_ray.registry import lookup, names, register


@dataclass(frozen=True)
class Job:
    name: str
    recipe: type[StrictConfig]
    run: Callable[[StrictConfig], dict]


def job(name: str, recipe: type[StrictConfig]):
    """Decorator: `@job("spec_decode", SpecDecodeRecipe)` on the function that runs the recipe."""

    def wrap(fn):
        register("job", name, Job(name, recipe, fn))
        return fn

    return wrap


def lookup_job(name: str) -> Job:
    _register_all()
    return lookup("job", name)


def job_names() -> list[str]:
    _register_all()
    return names("job")


def _register_all() -> None:
    import arctic_ray.jobs.sft  # noqa: F401
    import arctic_ray.jobs.spec_decode  # noqa: F401
    import arctic_ray.jobs.synth  # noqa: F401
