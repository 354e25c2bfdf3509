"""A local Snowflake for tests and benchmarks: fakesnow's server, which the real connector talks to
over HTTP, with Cortex installed on its DuckDB connection.

`SNOWFLAKE.CORTEX.COMPLETE` and `TRY_COMPLETE` are DuckDB macros over a Python UDF that answers
deterministically in Cortex's JSON shape (`fake_answer`). A prompt whose last message holds
`POISON` is one Cortex refuses: COMPLETE raises (a conversion error quoting the reason, as the
server reports it) and TRY_COMPLETE gives NULL, as Snowflake's do. `UNAVAILABLE_MODEL` fails every
statement that asks for it, TRY_COMPLETE included (a fault of the statement, not of a row). Every
SQL statement the server receives is logged, to count round trips."""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from arctic_ray.data.snowflake_connection import SnowflakeConnection

POISON = "POISON"
REFUSAL = "Cortex refused the prompt (poisoned)"
UNAVAILABLE_MODEL = "unavailable-model"
PASSWORD_ENV = "ARCTIC_RAY_TEST_SNOWFLAKE_PASSWORD"

# fakesnow's own warning, for scripts (pytest resets filters: tests mark it themselves)
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")


def fake_answer(model: str, messages: list[dict], options: dict) -> dict:
    """Echo the last message's words, cut at `max_tokens` words; a word is a token."""
    words = ["echo", *messages[-1]["content"].split()][: int(options.get("max_tokens") or 4096)]
    return {
        "choices": [{"messages": " ".join(words)}],
        "created": 0,
        "model": model,
        "usage": {
            "prompt_tokens": sum(len(m["content"].split()) for m in messages),
            "completion_tokens": len(words),
            "total_tokens": 0,
        },
    }


def _udf(model: str, messages: str, options: str) -> str:
    msgs = json.loads(messages)
    if POISON in msgs[-1]["content"]:
        return REFUSAL  # not JSON: the macro's cast to JSON fails (COMPLETE) or gives NULL (TRY_)
    opts = {k.lower(): v for k, v in json.loads(options).items()}
    return json.dumps(fake_answer(model, msgs, opts))


_DOWN = "CAST('Cortex model ' || m || ' is unavailable' AS JSON)"  # fails every statement using it
CORTEX_SQL = [
    "ATTACH IF NOT EXISTS ':memory:' AS SNOWFLAKE",
    "CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.CORTEX",
    "CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.COMPLETE(m, p, o) AS "
    f"CASE WHEN m = '{UNAVAILABLE_MODEL}' THEN {_DOWN} ELSE CAST(fake_cortex(m, p::VARCHAR, o::VARCHAR) AS JSON) END",
    "CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.TRY_COMPLETE(m, p, o) AS "
    f"CASE WHEN m = '{UNAVAILABLE_MODEL}' THEN {_DOWN} "
    "ELSE TRY_CAST(fake_cortex(m, p::VARCHAR, o::VARCHAR) AS JSON) END",
]


class _StatementLog:
    """ASGI wrapper: records the SQL text of every query request, then hands the request on."""

    def __init__(self, app):
        self.app, self.statements = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/queries/v1/query-request":
            return await self.app(scope, receive, send)
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        body = b"".join(m.get("body", b"") for m in messages)
        if (b"content-encoding", b"gzip") in [(k.lower(), v.lower()) for k, v in scope["headers"]]:
            body = gzip.decompress(body)
        self.statements.append(json.loads(body)["sqlText"])
        buffered = iter(messages)

        async def replay():
            return next(buffered, None) or await receive()

        await self.app(scope, replay, send)


@dataclass
class FakeSnowflake:
    port: int
    statements: list[str] = field(default_factory=list)

    def connection(self, **overrides) -> SnowflakeConnection:
        fields = dict(
            account="fakesnow",
            user="fake",
            password_env=PASSWORD_ENV,
            host="127.0.0.1",
            port=self.port,
            protocol="http",
            warehouse="WH",
            database="ARCTIC",
            schema="SYNTH",
        )
        return SnowflakeConnection(**{**fields, **overrides})

    def count(self, fragment: str = "") -> int:
        """Statements received so far whose text holds `fragment` (case-insensitive)."""
        return sum(fragment.upper() in s.upper() for s in self.statements)


@contextlib.contextmanager
def fake_snowflake() -> Iterator[FakeSnowflake]:
    import uvicorn

    server_module = importlib.import_module("fakesnow.server")  # `fakesnow.server` is also a function
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    duck = server_module.shared_fs.duck_conn
    with contextlib.suppress(Exception):  # already there when a process starts a second server
        duck.create_function("fake_cortex", _udf, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
    for sql in CORTEX_SQL:
        duck.execute(sql)
    app = _StatementLog(server_module.app)
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fake snowflake", daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the fake Snowflake server did not start")
    try:
        yield FakeSnowflake(port=port, statements=app.statements)
    finally:
        server.should_exit = True
        thread.join()
