"""Subcommands of `arctic-ray` that a method or stage adds where it is defined (`retrain` with the
spec_decode method, `synth` with the synthesis job, `dedup` with dedup): the CLI finds them by
discovery, as the job table finds jobs, so no method's command is written into the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from arctic_ray.core.registry import register


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    """Adds the command's arguments to its parser."""
    run: Callable[[argparse.Namespace], int]
    """Runs it; the exit code."""


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Decorator on the function that runs the subcommand `name`."""

    def wrap(fn: Callable[[argparse.Namespace], int]):
        register("command", name, Command(name, help, configure, fn))
        return fn

    return wrap
