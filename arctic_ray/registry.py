"""A registry of named building blocks, in the spirit of ArcticTraining.

Each kind of block (generation backend, trainer, model factory, job, ...) has its own
namespace. A class registers itself on definition by subclassing `Registered` with a
`kind` and a `name`; a recipe then refers to it by that name, and a typo is an error
that lists the names that exist.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

_REGISTRY: dict[str, dict[str, Any]] = {}


class UnknownBlockError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def register(kind: str, name: str, obj: Any) -> Any:
    blocks = _REGISTRY.setdefault(kind, {})
    if name in blocks and blocks[name] is not obj:
        raise ValueError(f"{kind} {name!r} is registered twice ({blocks[name]!r} and {obj!r})")
    blocks[name] = obj
    return obj


def registered(kind: str, name: str) -> Callable[[Any], Any]:
    """Decorator form, for functions: `@registered("job", "spec_decode")`."""
    return lambda obj: register(kind, name, obj)


def lookup(kind: str, name: str) -> Any:
    blocks = _REGISTRY.get(kind, {})
    if name not in blocks:
        known = ", ".join(sorted(blocks)) or "none"
        raise UnknownBlockError(f"unknown {kind} {name!r}; registered {kind}s: {known}")
    return blocks[name]


def names(kind: str) -> list[str]:
    return sorted(_REGISTRY.get(kind, {}))


def kinds() -> list[str]:
    return sorted(_REGISTRY)


class Registered:
    """Subclass with `kind = "..."` on a family base and `name = "..."` on each member."""

    kind: ClassVar[str]
    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            register(cls.kind, cls.name, cls)
