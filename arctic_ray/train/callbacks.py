"""Callbacks, as in ArcticTraining, in two kinds.

Around trainer methods (`WRAPPED`: collate, loss, evaluate, export): a callback that defines
`pre_<method>(trainer, *args)` runs before it and may return new arguments (a tuple, or the one
argument); `post_<method>(trainer, result)` runs after it and may return a new result. Returning
None changes nothing. The wrapping is applied to every subclass's own definition of the method,
so it survives overrides, and a `super()` call inside an override does not fire them twice.

At points of the loop (`EVENTS`): `pre_step(trainer, batch)` before each micro-batch's forward,
`post_step(trainer, metrics)` after each optimizer step, `post_train(trainer, metrics)` with the
final metrics (it may add to them)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

WRAPPED = ("collate", "loss", "evaluate", "export")
EVENTS = ("pre-step", "post-step", "post-train")


class Callback:
    def __call__(self, event: str, trainer: Any, **values: Any) -> None:
        handler = getattr(self, event.replace("-", "_"), None)
        if handler is not None:
            handler(trainer, **values)


class CallbackList:
    def __init__(self, callbacks: list[Callback] | None = None):
        self.callbacks = list(callbacks or [])

    def fire(self, event: str, trainer: Any, **values: Any) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown trainer event {event!r}; events: {', '.join(EVENTS)}")
        for callback in self.callbacks:
            callback(event, trainer, **values)

    def around(self, name: str, trainer: Any, method: Callable, args: tuple) -> Any:
        for callback in self.callbacks:
            pre = getattr(callback, f"pre_{name}", None)
            if pre is not None:
                new = pre(trainer, *args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        result = method(*args)
        for callback in self.callbacks:
            post = getattr(callback, f"post_{name}", None)
            if post is not None:
                new = post(trainer, result)
                if new is not None:
                    result = new
        return result


def with_callbacks(name: str, method: Callable) -> Callable:
    """`method` run inside the trainer's callbacks for `name` (once per outermost call)."""
    if getattr(method, "__callbacks__", None) == name:
        return method

    @functools.wraps(method)
    def wrapped(self, *args):
        active = self.__dict__.setdefault("_callbacks_active", set())
        callbacks = getattr(self, "callbacks", None)
        if name in active or callbacks is None:  # an override's super() call, or no callbacks yet
            return method(self, *args)
        active.add(name)
        try:
            return callbacks.around(name, self, lambda *a: method(self, *a), args)
        finally:
            active.discard(name)

    wrapped.__callbacks__ = name  # pyright: ignore[reportAttributeAccessIssue]  # a marker on the function object
    return wrapped


def wrap_methods(cls: type) -> None:
    """Wrap the `WRAPPED` methods that `cls` itself defines."""
    for name in WRAPPED:
        if name in cls.__dict__:
            setattr(cls, name, with_callbacks(name, cls.__dict__[name]))
