"""The spec_decode recipe and the YAML loader shared by every recipe type."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from arctic_ray.config.base import StrictConfig
from arctic_ray.config.data import PromptDataConfig
from arctic_ray.config.dedup import DedupConfig
from arctic_ray.config.eval import EvalConfig
from arctic_ray.config.ray_runtime import RayConfig
from arctic_ray.config.speculator import MLPSpeculatorConfig
from arctic_ray.config.synth import VLLMSynthConfig
from arctic_ray.config.train import TrainConfig


class RecipeError(ValueError):
    """A recipe that cannot be read or validated; the message names the file and the field."""


class SpecDecodeRecipe(StrictConfig):
    job: Literal["spec_decode"] = "spec_decode"
    """Which job runs this recipe."""

    model: str = "smollm2-135m-instruct"
    """Base model: a built-in name ("tiny", "smollm2-135m-instruct"), an HF name or a local path."""

    output_dir: Path = Path("runs/spec_decode")
    """Each run writes a new timestamped directory under this one."""

    seed: int = 0
    data: PromptDataConfig = PromptDataConfig()
    synth: VLLMSynthConfig = VLLMSynthConfig()
    dedup: DedupConfig = DedupConfig()
    speculator: MLPSpeculatorConfig = MLPSpeculatorConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    ray: RayConfig = Field(default_factory=RayConfig)


RECIPES: dict[str, type[StrictConfig]] = {"spec_decode": SpecDecodeRecipe}


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


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown field")
        else:
            lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def validate_recipe(raw: dict[str, Any], source: str = "recipe") -> StrictConfig:
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: a recipe is a YAML mapping, got {type(raw).__name__}")
    job = raw.get("job", "spec_decode")
    if job not in RECIPES:
        raise RecipeError(f"{source}: job: unknown job {job!r}; known: {', '.join(sorted(RECIPES))}")
    try:
        return RECIPES[job].model_validate(raw)
    except ValidationError as err:
        raise RecipeError(f"{source} is not a valid {job} recipe:\n{_describe(err)}") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> StrictConfig:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if overrides:
        if not isinstance(raw, dict):
            raise RecipeError(f"{path}: a recipe is a YAML mapping")
        raw = _merge(raw, parse_overrides(overrides))
    return validate_recipe(raw, source=str(path))
