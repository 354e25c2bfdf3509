"""A small OpenAI-compatible server for tests and benchmarks (server.py), started and read
through `FakeOpenAI` (handle.py)."""

from tests.support.fake_openai.handle import FakeOpenAI
from tests.support.fake_openai.server import Faults, Logged

__all__ = ["FakeOpenAI", "Faults", "Logged"]
