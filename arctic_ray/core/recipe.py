"""The YAML loader shared by every recipe: overrides, validation against a recipe class (the
job table, `arctic_ray/jobs.py`, picks the class), errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from arctic_ray.core.strict_config import StrictConfig
from arctic_ray.core.errors import ArcticRayError


class RecipeError(ArcticRayError, ValueError):
    """A recipe that cannot be read or validated; the message names the file and the field."""


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
            lines.append(f"  {where}.{field}: unknown {e['ctx']['tag']!r}; registered: {e['ctx']['expected_tags']}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown field")
        else:
            lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def validate_against(recipe_cls: type[StrictConfig], raw: dict[str, Any], source: str = "recipe") -> StrictConfig:
    try:
        return recipe_cls.model_validate(raw)
    except ValidationError as err:
        raise RecipeError(f"{source} is not a valid {raw.get('type', recipe_cls.__name__)} recipe:\n{_describe(err, raw)}") from None


def read_recipe(path: str | Path, overrides: list[str] | None = None) -> Any:
    """A recipe file as a mapping, with `--set` overrides merged in (not yet validated)."""
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
        raw = merge_dicts(raw, parse_overrides(overrides))
    return raw
