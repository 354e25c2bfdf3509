"""A registry of named building blocks, in the spirit of ArcticTraining, found by discovery.

Each kind of block (generation backend, judge, drafter, trainer, job, optimizer, ...) has its own
namespace and a home: the package where its members are defined (`home(kind, package)`, said
once where the kind's base is defined). A member registers itself where it is defined, by
subclassing a `Block` family or `Registered`, or with `@registered(kind, name)`. The first
lookup of a kind imports every module of its home packages (as vllm-project/speculators'
auto-discovery does), so adding a block is adding a module: there is no list of imports to keep.
Blocks from outside the package come in through the `arctic_ray.plugins` entry-point group or
`$ARCTIC_RAY_PLUGINS` (comma-separated modules), imported on the first lookup of any kind."""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, ClassVar

from arctic_ray.core.errors import ArcticRayError

_REGISTRY: dict[str, dict[str, Any]] = {}
_HOMES: dict[str, set[str]] = {}
_DISCOVERED: set[str] = set()
PLUGINS_ENV = "ARCTIC_RAY_PLUGINS"


class UnknownBlockError(ArcticRayError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def home(kind: str, *packages: str) -> None:
    """Members of `kind` are defined in modules of these packages."""
    _HOMES.setdefault(kind, set()).update(packages)


def register(kind: str, name: str, obj: Any) -> Any:
    blocks = _REGISTRY.setdefault(kind, {})
    if name in blocks and blocks[name] is not obj and _qualname(blocks[name]) != _qualname(obj):
        raise ValueError(f"{kind} {name!r} is registered twice ({blocks[name]!r} and {obj!r})")
    blocks[name] = obj
    return obj


def _qualname(obj: Any) -> str:
    """A module imported twice (as a script and as a module) defines its blocks twice: same name."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', id(obj))}".removeprefix("__main__.")


def registered(kind: str, name: str) -> Callable[[Any], Any]:
    """Decorator form, for functions: `@registered("scheduler", "cosine")`."""
    return lambda obj: register(kind, name, obj)


def discover(kind: str) -> None:
    """Import every module of the kind's home packages, and the plugins (once each)."""
    for package in sorted(_HOMES.get(kind, ())) + ["plugins"]:
        if package in _DISCOVERED:
            continue
        _DISCOVERED.add(package)
        if package == "plugins":
            _import_plugins()
        else:
            _import_tree(package)


def _import_tree(package: str) -> None:
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=f"{package}."):
        importlib.import_module(info.name)


def _import_plugins() -> None:
    modules = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    modules += [ep.value for ep in entry_points(group="arctic_ray.plugins")]
    for module in modules:
        importlib.import_module(module)


def lookup(kind: str, name: str) -> Any:
    blocks = _REGISTRY.get(kind, {})
    if name not in blocks:
        discover(kind)
        blocks = _REGISTRY.get(kind, {})
    if name not in blocks:
        known = ", ".join(sorted(blocks)) or "none"
        raise UnknownBlockError(f"unknown {kind} {name!r}; registered {kind}s: {known}")
    return blocks[name]


def names(kind: str) -> list[str]:
    discover(kind)
    return sorted(_REGISTRY.get(kind, {}))


def kinds() -> list[str]:
    for kind in list(_HOMES):
        discover(kind)
    return sorted(_REGISTRY)


class Registered:
    """Subclass with `kind = "..."` on a family base and `name = "..."` on each member."""

    kind: ClassVar[str]
    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            register(cls.kind, cls.name, cls)
