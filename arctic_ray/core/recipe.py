"""Recipes and the jobs that run them: the `Recipe` base every job's recipe extends, the `Job`
record a method registers where its run function is defined (`@job("sft", SFTRecipe)`; the job
table, `arctic_ray/job_table.py`, finds them by discovery), and the YAML loader shared by every
recipe: `--set` overrides, validation against a recipe class, errors that name the field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, cast

import yaml
from pydantic import Field, ValidationError, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.registry import register
from arctic_ray.core.run_dir import RECIPE_FILE
from arctic_ray.core.runtime import RayConfig
from arctic_ray.core.storage import location


class RecipeError(ArcticRayError, ValueError):
    """A recipe that cannot be read or validated; the message names the file and the field."""


class Recipe(StrictConfig):
    """What every job's recipe has: the job's `type`, where runs go, the seed, the Ray cluster.
    A field that moved is an error naming its new place (`moved`: old dotted path -> new), never
    a silent alias."""

    type: str
    """Which job runs this recipe (`arctic-ray list`)."""

    output_dir: str = "runs"
    """Each run writes a new timestamped directory under this one: a local path or a filesystem
    URI (`s3://bucket/runs`) that every node can reach."""

    seed: int = 0
    ray: RayConfig = Field(default_factory=RayConfig)

    moved: ClassVar[dict[str, str]] = {}

    def before(self, later: Recipe) -> Self:
        """This recipe, run before `later` in a pipeline: a recipe can take a default from the one
        it prepares for (the preference job generates with the DPO policy's starting model)."""
        return self

    def after(self, previous: dict[str, Any]) -> Self:
        """This recipe, run after another job whose final metrics are `previous` (a pipeline of
        two recipes: synthesis then SFT, preference data then DPO): a job that can take the earlier
        run's output as its input overrides this and says how."""
        raise RecipeError(f"a {self.type} recipe cannot follow a {previous.get('type', '?')} run")

    @model_validator(mode="before")
    @classmethod
    def _no_old_spelling(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            found = [f"{old}: moved to {new}" for old, new in cls.moved.items() if _given(raw, old)]
            if found:
                raise ValueError("; ".join(found))
        return raw


R = TypeVar("R", bound=Recipe)


@dataclass(frozen=True)
class Job:
    name: str
    recipe: type[Recipe]
    run: Callable[..., dict]
    """`run(recipe, run_dir=None) -> metrics`: a new run, or `run_dir` again (resume)."""


def job(name: str, recipe: type[Recipe]):
    """Decorator on the function that runs a recipe of `recipe`'s class."""

    def wrap(fn):
        register("job", name, Job(name, recipe, fn))
        return fn

    return wrap


def _given(raw: dict, dotted: str) -> bool:
    node: Any = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise RecipeError(f"override {dotted!r}: {key!r} is not a section")
    node[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["train.epochs=2", "model=tiny"]` -> nested dict; values are parsed as YAML scalars."""
    tree: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise RecipeError(f"override {pair!r} is not KEY=VALUE (e.g. train.epochs=2)")
        key, raw = pair.split("=", 1)
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    return tree


def merge_dicts(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into `base`, recursively for nested dicts; `over` wins."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_dicts(out[key], value)
        else:
            out[key] = value
    return out


def _field_path(raw: Any, loc: tuple) -> str:
    """The dotted field of an error location, without the discriminator tags pydantic inserts
    for a union member (`speculator.eagle3.n_predict` -> `speculator.n_predict`)."""
    parts, node = [], raw
    for i, key in enumerate(loc):
        # a tag is a step of the location that is not a key of the input (and not its last step)
        if isinstance(node, dict) and key not in node and i < len(loc) - 1:
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _describe(err: ValidationError, raw: Any) -> str:
    lines = []
    for e in err.errors():
        where = _field_path(raw, e["loc"])
        if e["type"] == "union_tag_invalid":
            node = raw
            for key in e["loc"]:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            field = next((k for k in ("type", "backend") if k in node), "type")
            ctx = e.get("ctx", {})
            lines.append(f"  {where}.{field}: unknown {ctx.get('tag')!r}; registered: {ctx.get('expected_tags')}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown field")
        elif not e["loc"]:  # a rule over the whole recipe: its message names the fields
            lines.append(f"  {e['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def validate_against(recipe_cls: type[Recipe], raw: dict[str, Any], source: str, kind: str) -> Recipe:
    try:
        return recipe_cls.model_validate(raw)
    except ValidationError as err:
        raise RecipeError(f"{source} is not a valid {kind} recipe:\n{_describe(err, raw)}") from None


def read_recipe(path: str | Path, overrides: list[str] | None = None) -> Any:
    """A recipe file (a path or a URI) as a mapping, with `--set` overrides merged in (not yet
    validated)."""
    loc = location(path)
    if not loc.exists() or loc.is_dir():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        raw = yaml.safe_load(loc.read_text()) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if overrides:
        if not isinstance(raw, dict):
            raise RecipeError(f"{path}: a recipe is a YAML mapping")
        raw = merge_dicts(raw, parse_overrides(overrides))
    return raw


def recipe_source(path: str | Path | None, resume: str | None) -> str:
    """The recipe file to read: `path`, or the recipe a run directory was run with (`resume`)."""
    if resume:
        return location(resume).join(RECIPE_FILE).uri
    if path is None:
        raise RecipeError("give a recipe file or --resume RUN_DIR")
    return str(path)


def load_as(recipe_cls: type[R], path: str | Path | None, overrides: list[str], resume: str | None = None) -> R:
    """A recipe of `recipe_cls` from a file or a run directory, with `--set` overrides."""
    source = recipe_source(path, resume)
    return cast(R, validate_against(recipe_cls, read_recipe(source, overrides), source, recipe_cls.__name__))
