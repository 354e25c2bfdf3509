"""The test side of the fake OpenAI server: start it as a subprocess, read its request log,
reset its faults between tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tests.support.fake_openai.server import Faults, Logged, answer_text

REPO = Path(__file__).resolve().parents[3]


class FakeOpenAI:
    def __init__(
        self,
        api_key: str | None = None,
        latency_s: float = 0.0,
        faults: Faults | None = None,
        answer_words: int = 8,
        scripts: dict[str, list[str]] | None = None,
    ):
        self.api_key = api_key
        self.latency_s = latency_s
        self.faults = faults if faults is not None else Faults()
        self.answer_words = answer_words
        self.scripts = scripts or {}
        """Replies by name, for conversations that contain `[script:NAME]` (see server.py)."""
        self.port = 0
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAI:
        settings = {
            "api_key": self.api_key,
            "latency_s": self.latency_s,
            "faults": asdict(self.faults),
            "answer_words": self.answer_words,
            "scripts": self.scripts,
        }
        # Settings (the expected key among them) go by environment, not on a command line `ps` shows.
        env = {**os.environ, "FAKE_OPENAI_SETTINGS": json.dumps(settings)}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from tests.support.fake_openai.server import main; main()"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError("the fake OpenAI server did not start")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stdin.close()  # the server exits when its stdin closes
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def log(self) -> list[Logged]:
        with urllib.request.urlopen(f"{self.url}/fake/log", timeout=30) as response:
            return [Logged(**entry) for entry in json.load(response)]

    def reset(self, faults: Faults | None = None, latency_s: float | None = None) -> None:
        """Start a new log and attempt count (and change the faults or latency)."""
        self.faults = faults if faults is not None else Faults()
        self.latency_s = latency_s if latency_s is not None else self.latency_s
        body = json.dumps({"faults": asdict(self.faults), "latency_s": self.latency_s}).encode()
        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/fake/reset", data=body, method="POST"), timeout=30
        ).close()

    def expected_answer(self, messages: list[dict], max_tokens: int) -> str:
        """The completion the server gives for `messages`."""
        return answer_text(messages, self.answer_words, max_tokens)

    def sends(self) -> Counter[str]:
        """Requests received per prompt."""
        return Counter(entry.prompt for entry in self.log)

    def deliveries(self) -> Counter[str]:
        """Answers the client received, per prompt."""
        return Counter(entry.prompt for entry in self.log if entry.delivered)
