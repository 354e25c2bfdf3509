"""A small OpenAI-compatible server for tests and benchmarks (see server.py)."""

from tests.fake_openai.server import FakeOpenAI, Faults, Logged

__all__ = ["FakeOpenAI", "Faults", "Logged"]
