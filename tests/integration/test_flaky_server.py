"""A flaky provider, through the real `openai` client, with faults on a seeded schedule: 429
with Retry-After, 500, an answer slower than the client's timeout, a 200 whose body is not JSON
(online chat completions, tests/support/fake_openai); a batch create that answers 500 after making the
batch, an upload not yet processed, a 405 on every file delete (the Batch API,
tests/support/fake_batch_server). Every row ends answered or in errors with its reason, no answered
request is sent twice, and the request budget holds."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict

import pytest
import ray.data

from arctic_ray.synth.backend import SamplingConfig, Target
from arctic_ray.synth.backends.openai.config import OpenAISynthConfig
from arctic_ray.synth.backends.openai_batch.config import OpenAIBatchSynthConfig
from arctic_ray.synth.keyed import generate_stored
from arctic_ray.synth.openai_connection import OpenAIConnection
from tests.support.fake_batch_server import FakeBatchServer
from tests.support.fake_batch_server import Faults as BatchFaults
from tests.support.fake_openai import FakeOpenAI, Faults

KEY_ENV = "ARCTIC_RAY_TEST_FLAKY_KEY"
KEY = f"sk-flaky-{uuid.uuid4().hex}"
os.environ[KEY_ENV] = KEY  # before the session's Ray starts: its workers inherit it
BATCH_KEY_ENV = "ARCTIC_RAY_TEST_FLAKY_BATCH_KEY"
os.environ[BATCH_KEY_ENV] = "sk-fake-test-key"

SCHEDULE = Faults(
    seed=11,
    rate_limited=0.2,
    server_error=0.15,
    slow=0.1,
    malformed=0.1,
    faulty_attempts=2,
    retry_after_s=0.3,
    slow_s=1.0,
)


def prompts(n: int, tag: str) -> list[dict]:
    return [
        {"id": f"{tag}{i}", "messages": [{"role": "user", "content": f"{tag} flaky question {i}"}]} for i in range(n)
    ]


def test_online_every_row_accounted_for_nothing_bought_twice_budget_held(ray_local, tmp_path):
    per_window = 8
    with FakeOpenAI(api_key=KEY, faults=SCHEDULE) as server:
        connection = OpenAIConnection(base_url=server.base_url, api_key_env=KEY_ENV, timeout_s=0.5)
        cfg = OpenAISynthConfig(
            connection=connection, sampling=SamplingConfig(max_tokens=6),
            concurrency=2, max_concurrency=8, batch_size=8,
            max_attempts=4, backoff_s=0.05, max_backoff_s=0.2, requests_per_minute=per_window * 60, window_s=1.0,
            budget_name=f"flaky-{uuid.uuid4().hex[:8]}",
        )  # fmt: skip
        rows = prompts(30, "on") + [
            {"id": "never", "messages": [{"role": "user", "content": "always down [fail:500]"}]}
        ]
        target = Target("fake-model", "fake-model", "fake-model", str(tmp_path / "store"), str(tmp_path / "run"))
        out = {r["id"]: r for r in generate_stored(ray.data.from_items(rows), cfg, target).rows.take_all()}
        log = server.log

    assert set(out) == {r["id"] for r in rows}  # every row, answered or with its reason
    assert {"429", "500", "slow", "malformed"} <= {e.fault for e in log}  # the whole schedule happened
    for row in prompts(30, "on"):
        assert out[row["id"]]["error"] == "" and out[row["id"]]["completion"] == server.expected_answer(
            row["messages"], 6
        )
    assert out["never"]["error"].startswith("HTTP 500") and "gave up after 4 attempts" in out["never"]["error"]
    delivered = defaultdict(int)
    for entry in log:
        delivered[entry.prompt] += entry.delivered
    assert max(delivered.values()) == 1  # no answer received twice
    # Retry-After was honoured: a 429'd request's next attempt came no sooner than it said.
    by_prompt = defaultdict(list)
    for entry in sorted(log, key=lambda e: e.at):
        by_prompt[entry.prompt].append(entry)
    for attempts in by_prompt.values():
        for before, after in zip(attempts, attempts[1:], strict=False):
            if before.fault == "429":
                assert after.at - before.at >= SCHEDULE.retry_after_s * 0.95
    # The budget held over every attempt (jitter between grant and arrival allowed, as elsewhere).
    arrivals = sorted(e.at for e in log)
    assert max(sum(1 for t in arrivals if a <= t < a + 0.75) for a in arrivals) <= per_window


@pytest.fixture
def batch_server():
    faults = BatchFaults(
        complete_after_s=0.2, error_rate=0.2, seed=5, create_errors=1, process_after_s=0.3, delete_status=405
    )
    srv = FakeBatchServer(faults=faults).start()
    yield srv
    srv.stop()


def test_batch_every_row_accounted_for_nothing_bought_twice_cleanup_refused(ray_local, batch_server, tmp_path):
    synth = OpenAIBatchSynthConfig(
        connection={"base_url": f"{batch_server.url}/v1", "api_key_env": BATCH_KEY_ENV}, poll_interval_s=0.05,
        sampling={"max_tokens": 16}, limits={"max_requests": 4},
    )  # fmt: skip
    target = Target("gpt-test", "gpt-test", "gpt-test", str(tmp_path / "store"), str(tmp_path / "run"))
    rows = prompts(10, "b")
    gen = generate_stored(ray.data.from_items(rows), synth, target)
    out = {r["id"]: r for r in gen.rows.take_all()}
    assert set(out) == {r["id"] for r in rows}
    failed = [r for r in out.values() if r["error"]]
    assert failed and all(r["error"].startswith("HTTP 400: seeded failure") for r in failed)
    for row in out.values():
        if not row["error"]:
            assert row["completion"] == FakeBatchServer.answer_text(row["messages"])
    # Each request went out in exactly one batch (the create that answered 500 was found, not repeated).
    assert set(batch_server.counts.requests.values()) == {1} and batch_server.counts.creates == 3
    assert batch_server.early_creates == 0  # no create before its file was processed
    assert batch_server.delete_refusals > 0 and synth.report(target)["files_not_deleted"] == len(
        batch_server.live_files()
    )
