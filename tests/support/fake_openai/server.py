"""An OpenAI-compatible chat-completions server for tests and benchmarks, run as its own process
on a free port (`handle.py` starts it): the real `openai` client talks HTTP to it, and its clock
and event loop are not stalled by the test process.

- Routes: POST /v1/chat/completions (OpenAI) and
  POST /openai/deployments/{deployment}/chat/completions?api-version=... (Azure), JSON or SSE
  (`stream: true`, with a usage chunk when `stream_options.include_usage`).
- Answers are deterministic: derived from the messages, cut at `max_tokens` words.
- Faults on a seeded schedule, decided per (request content, attempt number), so a run's faults
  do not depend on arrival order: 429 with Retry-After, 500, an answer slower than the client's
  timeout, a 200 whose body is not JSON. Only a request's first `faulty_attempts` attempts can
  fail, so every request gets through with enough retries. A message containing `[fail:NNN]`
  always gets status NNN; one containing `[echo-auth]` gets a 401 that echoes the credential
  header (a misbehaving proxy), to prove it is scrubbed. `hold_after` holds every request after
  the first N answers unanswered until the next reset: a known point to kill a client at. A conversation containing
  `[script:NAME]` is answered with the scripted replies of NAME (a judge that answers in prose,
  then in JSON): reply i for a request holding i assistant turns, the last one after that.
- Every request is logged with its arrival time and a content hash, so a test can count re-sends
  and requests per window (GET /fake/log; POST /fake/reset starts a new log with new faults)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FORCED_STATUS = re.compile(r"\[fail:(\d{3})\]")
SCRIPT = re.compile(r"\[script:([\w-]+)\]")
ECHO_AUTH = "[echo-auth]"


@dataclass(frozen=True)
class Faults:
    seed: int = 0
    rate_limited: float = 0.0
    """Share of attempts answered 429 with Retry-After."""
    server_error: float = 0.0
    """Share answered 500."""
    slow: float = 0.0
    """Share answered only after `slow_s` (longer than the client's timeout)."""
    malformed: float = 0.0
    """Share answered 200 with a body that is not JSON."""
    faulty_attempts: int = 2
    retry_after_s: float = 0.1
    slow_s: float = 2.0
    hold_after: int = -1
    """When >= 0: once this many answers were delivered, every later request is held unanswered
    until the next reset (a known point at which a test can kill the client)."""

    def pick(self, content_hash: str, attempt: int) -> str:
        if attempt >= self.faulty_attempts:
            return ""
        draw = random.Random(f"{self.seed}:{content_hash}:{attempt}").random()
        for name, share in (
            ("429", self.rate_limited),
            ("500", self.server_error),
            ("slow", self.slow),
            ("malformed", self.malformed),
        ):
            if draw < share:
                return name
            draw -= share
        return ""


@dataclass
class Logged:
    at: float
    """time.time() of arrival."""
    route: str
    """`openai` or `azure`."""
    deployment: str | None
    api_version: str | None
    content_hash: str
    prompt: str
    """The last message's content (tests give each request its own)."""
    attempt: int
    stream: bool
    status: int = 0
    fault: str = ""
    completion_tokens: int = 0
    prompt_tokens: int = 0

    @property
    def delivered(self) -> bool:
        """An answer the client received (a slow one arrives after it gave up)."""
        return self.status == 200 and not self.fault


class FakeOpenAIService:
    """The server's state and handlers (runs in the server process)."""

    def __init__(
        self,
        api_key: str | None,
        latency_s: float,
        faults: Faults,
        answer_words: int,
        scripts: dict[str, list[str]] | None = None,
    ):
        self.api_key = api_key
        self.scripts = scripts or {}
        self.latency_s = latency_s
        self.faults = faults
        self.answer_words = answer_words
        self.log: list[Logged] = []
        self._attempts: Counter[str] = Counter()
        self._delivered = 0
        self._release: asyncio.Event | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/openai/deployments/{deployment}/chat/completions", self._azure, methods=["POST"]),
                Route("/fake/log", self._log, methods=["GET"]),
                Route("/fake/reset", self._reset, methods=["POST"]),
            ]
        )

    async def _log(self, request: Request) -> Response:
        return JSONResponse([asdict(entry) for entry in self.log])

    async def _reset(self, request: Request) -> Response:
        settings = json.loads(await request.body())
        self.log, self._attempts, self._delivered = [], Counter(), 0
        if self._release is not None:
            self._release.set()  # held requests go on (to clients long gone)
            self._release = None
        self.faults = Faults(**settings["faults"])
        self.latency_s = settings["latency_s"]
        return JSONResponse({})

    async def _openai(self, request: Request) -> Response:
        credential = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        return await self._chat(request, "openai", None, credential)

    async def _azure(self, request: Request) -> Response:
        if not request.query_params.get("api-version"):
            return _error(404, "Resource not found (no api-version)")
        return await self._chat(
            request, "azure", request.path_params["deployment"], request.headers.get("api-key") or ""
        )

    async def _chat(self, request: Request, route: str, deployment: str | None, credential: str) -> Response:
        try:
            body = json.loads(await request.body())
            messages = body["messages"]
        except (ValueError, KeyError):
            return _error(400, "the body must be JSON with `messages`")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 16
        sampling = {k: body.get(k) for k in ("temperature", "top_p", "seed")}
        content_hash = hashlib.sha256(
            json.dumps([body.get("model"), messages, sampling, max_tokens], sort_keys=True).encode()
        ).hexdigest()[:16]
        prompt = str(messages[-1].get("content") or "")
        entry = Logged(
            time.time(),
            route,
            deployment,
            request.query_params.get("api-version"),
            content_hash,
            prompt,
            self._attempts[content_hash],
            bool(body.get("stream")),
        )
        self._attempts[content_hash] += 1
        self.log.append(entry)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if 0 <= self.faults.hold_after <= self._delivered:
            entry.fault = "held"
            self._release = self._release or asyncio.Event()
            await self._release.wait()
            return _error(503, "held until reset")
        response = self._refusal(entry, messages, credential)
        if response is None:
            response = await self._answer(entry, body, messages, max_tokens)
        entry.status = response.status_code
        self._delivered += entry.delivered
        return response

    def _refusal(self, entry: Logged, messages: list[dict], credential: str) -> Response | None:
        last = str(messages[-1].get("content") or "")
        if ECHO_AUTH in last:
            return _error(401, f"Incorrect API key provided: {credential}")
        if self.api_key is not None and credential != self.api_key:
            return _error(401, "Incorrect API key provided")
        forced = FORCED_STATUS.search(last)
        if forced:
            return _error(int(forced.group(1)), f"forced status {forced.group(1)}")
        entry.fault = self.faults.pick(entry.content_hash, entry.attempt)
        if entry.fault == "429":
            wait = self.faults.retry_after_s
            headers = {"retry-after-ms": str(int(wait * 1000)), "retry-after": str(math.ceil(wait))}
            return _error(429, "Rate limit reached, slow down", headers)
        if entry.fault == "500":
            return _error(500, "The server had an error while processing your request")
        return None

    async def _answer(self, entry: Logged, body: dict, messages: list[dict], max_tokens: int) -> Response:
        if entry.fault == "slow":
            await asyncio.sleep(self.faults.slow_s)
        scripted = self._scripted(messages)
        words = scripted.split(" ") if scripted is not None else _answer_words(messages, self.answer_words)[:max_tokens]
        finish_reason = "stop" if scripted is not None or len(words) >= self.answer_words else "length"
        entry.prompt_tokens = sum(len(str(m.get("content") or "").split()) + 4 for m in messages) + 3
        entry.completion_tokens = len(words)
        usage = {
            "prompt_tokens": entry.prompt_tokens,
            "completion_tokens": entry.completion_tokens,
            "total_tokens": entry.prompt_tokens + entry.completion_tokens,
        }
        model = body.get("model") or "fake"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _sse_events(
                model, words, finish_reason, usage if include_usage else None, broken=entry.fault == "malformed"
            )
            return StreamingResponse(events, media_type="text/event-stream")
        if entry.fault == "malformed":
            return Response(b'{"id": "chatcmpl-broken", "choices": [{"message": ', media_type="application/json")
        message = {"role": "assistant", "content": " ".join(words)}
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                "usage": usage,
            }
        )

    def _scripted(self, messages: list[dict]) -> str | None:
        for m in messages:
            found = SCRIPT.search(str(m.get("content") or ""))
            if found and found.group(1) in self.scripts:
                replies = self.scripts[found.group(1)]
                return replies[min(sum(m.get("role") == "assistant" for m in messages), len(replies) - 1)]
        return None


def _answer_words(messages: list[dict], count: int) -> list[str]:
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
    words = ["answer:"] + str(messages[-1].get("content") or "").split()
    words += [digest[i : i + 4] for i in range(0, len(digest), 4)]
    return words[:count]


async def _sse_events(model: str, words: list[str], finish_reason: str, usage: dict | None, broken: bool):
    def chunk(delta: dict, finish: str | None = None, choices: bool = True, **extra) -> bytes:
        body = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []
        return f"data: {json.dumps({**body, **extra})}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    if broken:
        yield b'data: {"id": "chatcmpl-stream", "choices": [\n\n'
        return
    for i, word in enumerate(words):
        yield chunk({"content": word if i == 0 else " " + word})
    yield chunk({}, finish_reason)
    if usage is not None:
        yield chunk({}, choices=False, usage=usage)
    yield b"data: [DONE]\n\n"


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    kind = "rate_limit_error" if status == 429 else ("server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": None}}, status_code=status, headers=headers
    )


def answer_text(messages: list[dict], answer_words: int, max_tokens: int) -> str:
    return " ".join(_answer_words(messages, answer_words)[:max_tokens])


def main() -> None:
    """Serve on a free port, print it, and exit when the parent closes stdin (or dies)."""
    settings = json.loads(os.environ["FAKE_OPENAI_SETTINGS"])
    service = FakeOpenAIService(
        settings["api_key"],
        settings["latency_s"],
        Faults(**settings["faults"]),
        settings["answer_words"],
        settings.get("scripts"),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections wait in the backlog until the server's loop takes them
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(service.app(), log_level="warning", access_log=False, lifespan="off"))

    def exit_with_parent() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.run(sockets=[sock])
