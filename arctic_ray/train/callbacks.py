"""Callbacks run around trainer methods, as in ArcticTraining: a callback subscribes to an
event ("pre-step", "post-loss", "post-step", "post-train") by defining the method of that
name with dashes as underscores, and gets the trainer plus the event's values."""

from __future__ import annotations

from typing import Any

EVENTS = ("pre-step", "post-loss", "post-step", "post-train")


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
