"""TEST ONLY: prompts that kill the engine actor's process when they are handed to its engine,
so the tests can make an engine die where they choose (`tests/integration/test_engine_deaths.py`).

Inert unless the environment variable `ARCTIC_RAY_TEST_ENGINE_CRASH` is set (no recipe field
names it: a recipe cannot turn it on). Its value is a marker; when a batch reaches the engine
(its rows' texts: a chat's messages, a features row's decoded tokens):
- a row whose messages contain `<marker>-ONCE`, handed to an engine for the first time (no
  engine died with it yet), makes the process SIGKILL itself, as the OOM killer or an operator
  would kill it;
- otherwise a row whose messages contain `<marker>` makes the process exit at once (`os._exit`),
  as a vLLM crash would, every time.
The driver forwards the variable to the engine actors (`forwarded`), so setting it in the
test's own process is enough."""

from __future__ import annotations

import os
import signal

CRASH_ENV = "ARCTIC_RAY_TEST_ENGINE_CRASH"
ONCE = "-ONCE"


def forwarded() -> dict[str, str]:
    """The actors' environment variables for the hook: none unless the driver has it set."""
    marker = os.environ.get(CRASH_ENV)
    return {CRASH_ENV: marker} if marker else {}


def armed() -> bool:
    return bool(os.environ.get(CRASH_ENV))


def crash_if_marked(texts: list[str], deaths: list[int]) -> None:
    marker = os.environ.get(CRASH_ENV)
    if not marker:
        return
    if any(marker + ONCE in text and not died for text, died in zip(texts, deaths, strict=True)):
        os.kill(os.getpid(), signal.SIGKILL)
    if any(marker in text.replace(marker + ONCE, "") for text in texts):
        os._exit(1)
