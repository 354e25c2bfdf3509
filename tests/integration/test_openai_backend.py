"""The `openai` and `azure_openai` backends: the real openai client over HTTP to a local
OpenAI-compatible server that injects faults (tests/support/fake_openai), to vLLM's own OpenAI server on
the tiny model, and the budget's arithmetic on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import ray.data

from arctic_ray.synth.backend import PricingConfig, SamplingConfig, Target
from arctic_ray.synth.backends.openai.config import AzureOpenAISynthConfig, OpenAISynthConfig
from arctic_ray.synth.budget import BUDGET_NAMESPACE
from arctic_ray.synth.budget_accounting import SPEND_LIMIT_REACHED
from arctic_ray.synth.keyed import generate_stored
from arctic_ray.synth.openai_connection import OpenAIConnection
from arctic_ray.synth.schema import OUTPUT_COLUMNS
from arctic_ray.synth.sent_log import SentLog
from tests.support.fake_openai import FakeOpenAI, Faults

KEY_ENV = "ARCTIC_RAY_TEST_OPENAI_KEY"
KEY = f"sk-test-{uuid.uuid4().hex}"
# Set while tests are collected, before the session's Ray cluster starts: its workers inherit the
# environment it started with, as they would on a real node.
os.environ[KEY_ENV] = KEY

FAULTS = Faults(
    seed=7,
    rate_limited=0.15,
    server_error=0.15,
    slow=0.1,
    malformed=0.1,
    faulty_attempts=2,
    retry_after_s=0.1,
    slow_s=1.0,
)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def fake(server):
    server.reset(latency_s=0.0)
    return server


def fast_settings(**overrides) -> dict:
    """Small batches over two actors, short timeouts and backoffs: faults cost milliseconds."""
    settings = dict(
        sampling=SamplingConfig(max_tokens=6),
        concurrency=2,
        max_concurrency=8,
        batch_size=8,
        max_attempts=4,
        backoff_s=0.05,
        max_backoff_s=0.2,
    )
    return {**settings, **overrides}


def openai_config(server: FakeOpenAI, **overrides) -> OpenAISynthConfig:
    connection = OpenAIConnection(base_url=server.base_url, api_key_env=KEY_ENV, timeout_s=0.5)
    return OpenAISynthConfig(**fast_settings(connection=connection, **overrides))


def prompts(n: int, tag: str) -> list[dict]:
    return [
        {"id": f"{tag}{i}", "messages": [{"role": "user", "content": f"{tag} question number {i}"}], "topic": tag}
        for i in range(n)
    ]


def target(tmp_path: Path, model: str = "fake-model", store: str = "store") -> Target:
    return Target(model, model, model, str(tmp_path / store), str(tmp_path / "run"))


def by_prompt(rows: list[dict]) -> dict[str, dict]:
    return {r["messages"][-1]["content"]: r for r in rows}


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def budget_grants(cfg) -> list[float]:
    """The grant times (the budget actor's monotonic clock) of the named budget of `cfg`'s key."""
    actor = ray.get_actor(cfg.shared_budget_name, namespace=BUDGET_NAMESPACE)
    return ray.get(actor.state.remote())["recent_grants_s"]


def busiest_window(times: list[float], window_s: float) -> int:
    """The most times in any window of `window_s` (half-open, as the sliding window counts)."""
    return max(sum(1 for t in times if s <= t < s + window_s) for s in times)


def test_every_row_ends_answered_or_with_its_reason_and_no_answer_is_bought_twice(ray_local, fake, tmp_path):
    fake.reset(FAULTS)
    rows = prompts(40, "fault")
    rows += [
        {"id": "bad", "messages": [{"role": "user", "content": "refused [fail:400]"}]},
        {"id": "down", "messages": [{"role": "user", "content": "always down [fail:500]"}]},
        {"id": "echo", "messages": [{"role": "user", "content": "proxy [echo-auth]"}]},
    ]
    cfg = openai_config(fake)
    first = generate_stored(ray.data.from_items(rows), cfg, target(tmp_path))
    out = by_prompt(first.rows.take_all())
    assert (first.reused, first.sent) == (0, len(rows)) and len(out) == len(rows)

    # Every fault kind happened, and every row whose faults stop came through them.
    assert {"429", "500", "slow", "malformed"} <= {e.fault for e in fake.log}
    for row in prompts(40, "fault"):
        got = out[row["messages"][0]["content"]]
        assert set(OUTPUT_COLUMNS) <= set(got) and got["error"] == "", got["error"]
        assert got["completion"] == fake.expected_answer(row["messages"], 6)
        assert (
            got["finish_reason"] == "length"
            and got["usage"]["completion_tokens"] == 6
            and got["usage"]["prompt_tokens"] > 0
        )
        assert (got["id"], got["topic"], got["backend"], got["model"]) == (row["id"], "fault", "openai", "fake-model")
        assert got["key"] and got["sampling"]["max_tokens"] == 6

    # A 4xx other than 408/409/429 is not retried; a lasting 5xx is, up to max_attempts.
    sends = fake.sends()
    assert out["refused [fail:400]"]["error"] == "HTTP 400: forced status 400" and sends["refused [fail:400]"] == 1
    assert (
        out["always down [fail:500]"]["error"].endswith("(gave up after 4 attempts)")
        and sends["always down [fail:500]"] == 4
    )
    assert out["always down [fail:500]"]["finish_reason"] == "error"
    # The key the proxy echoed is scrubbed from the reason, and appears in nothing the run wrote.
    assert out["proxy [echo-auth]"]["error"].startswith("HTTP 401: Incorrect API key provided: [redacted]")
    assert all(KEY not in r["error"] for r in out.values())
    assert files_holding(tmp_path, KEY) == []
    assert files_holding(Path(ray_local._private.worker._global_node.get_session_dir_path()), KEY) == []

    # Each answer was received once, and every key was logged before it was sent.
    assert max(fake.deliveries().values()) == 1
    assert SentLog(tmp_path / "store").keys() == {r["key"] for r in out.values()}

    # A rerun sends only the rows that failed: every answer comes from the store.
    fake.reset()
    again = generate_stored(ray.data.from_items(rows), cfg, target(tmp_path))
    repeated = by_prompt(again.rows.take_all())
    assert (again.reused, again.sent, again.resent) == (40, 3, 0)  # failed, not in flight at a crash
    assert set(fake.sends()) == {"refused [fail:400]", "always down [fail:500]", "proxy [echo-auth]"}
    assert all(repeated[p]["completion"] == out[p]["completion"] for p in out if not out[p]["error"])


def test_the_request_budget_holds_across_actors(ray_local, fake, tmp_path):
    # Each of the 2 actors alone could send ~300 requests a second here; together they get 10.
    fake.reset(latency_s=0.02)
    per_window = 10
    cfg = openai_config(fake, requests_per_minute=per_window * 60, window_s=1.0, batch_size=5)
    started = time.time()
    result = generate_stored(ray.data.from_items(prompts(30, "budget")), cfg, target(tmp_path))
    assert all(r["error"] == "" for r in result.rows.take_all())
    arrivals = sorted(e.at for e in fake.log)
    assert len(arrivals) == 30 and arrivals[0] >= started
    # The limit holds where it is decided: at most 10 grants in any 1 s of the budget's own clock
    # (the send that follows a grant can lag on a busy machine, so arrivals prove nothing here)...
    grants = budget_grants(cfg)[-30:]
    assert len(grants) == 30 and busiest_window(grants, 1.0) <= per_window
    # ...and it is not throttled below the limit: 30 grants at 10 a second take 2 s and a little
    # (at 1 a second they would take 29); the slack is for actors a busy machine schedules late.
    assert grants[-1] - grants[0] < 10.0, grants


def test_spend_limit_stops_sending_and_a_higher_limit_sends_the_rest(ray_local, fake, tmp_path):
    pricing = PricingConfig(input_per_million=1000, output_per_million=1000)  # $0.001 a token
    rows = prompts(20, "spend")
    cfg = openai_config(fake, pricing=pricing, spend_limit=0.1, concurrency=2, max_concurrency=4)
    first = by_prompt(generate_stored(ray.data.from_items(rows), cfg, target(tmp_path)).rows.take_all())
    answered = [p for p, r in first.items() if not r["error"]]
    refused = [p for p, r in first.items() if r["error"]]
    spent = sum(pricing.cost(e.prompt_tokens, e.completion_tokens) for e in fake.log)
    assert 0.05 < spent <= 0.1 and refused
    assert sorted(fake.sends()) == sorted(answered)
    assert all(first[p]["error"].startswith(SPEND_LIMIT_REACHED) for p in refused)

    # Refused rows were not stored: a rerun with a higher limit sends exactly them.
    fake.reset()
    again = generate_stored(ray.data.from_items(rows), cfg.model_copy(update={"spend_limit": 1.0}), target(tmp_path))
    assert all(r["error"] == "" for r in again.rows.take_all())
    assert sorted(fake.sends()) == sorted(refused) and again.reused == len(answered)


def test_azure_deployment_route_streams_answers_whole_through_faults(ray_local, fake, tmp_path):
    fake.reset(Faults(seed=3, rate_limited=0.2, malformed=0.3, faulty_attempts=1, retry_after_s=0.05))
    connection = OpenAIConnection(kind="azure", endpoint=fake.url, api_key_env=KEY_ENV, timeout_s=2)
    cfg = AzureOpenAISynthConfig(**fast_settings(connection=connection, stream=True))
    rows = prompts(12, "azure")
    out = by_prompt(
        generate_stored(ray.data.from_items(rows), cfg, target(tmp_path, model="my-deployment")).rows.take_all()
    )
    log = fake.log
    assert {(e.route, e.deployment, e.api_version, e.stream) for e in log} == {
        ("azure", "my-deployment", "2024-10-21", True)
    }
    assert {e.fault for e in log} >= {"429", "malformed"}  # a stream cut mid-answer is sent again
    for row in rows:
        got = out[row["messages"][0]["content"]]
        assert got["error"] == "" and got["completion"] == fake.expected_answer(row["messages"], 6)
        assert got["usage"]["completion_tokens"] == 6 and got["finish_reason"] == "length"
        assert (got["backend"], got["model"]) == ("azure_openai", "my-deployment")


@pytest.fixture(scope="session")
def vllm_server(tiny_model, tmp_path_factory):
    """vLLM's own OpenAI server on the tiny model (CPU), shared by the tests that need it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "VLLM_API_KEY": KEY, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
           "--model", tiny_model, "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "256", "--enforce-eager", "--dtype", "float32",
           "--kv-cache-memory-bytes", str(64 << 20), "--distributed-executor-backend", "uni"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", proc, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM's server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"vLLM's server was not healthy within {timeout_s} s: {log.read_text()[-3000:]}")


def test_vllm_openai_server_is_a_peer(ray_local, vllm_server, tmp_path):
    cfg = OpenAISynthConfig(
        connection=OpenAIConnection(base_url=vllm_server, api_key_env=KEY_ENV, timeout_s=60),
        sampling=SamplingConfig(max_tokens=8),
        concurrency=1,
        stream=True,
    )
    rows = prompts(3, "vllm")
    out = generate_stored(ray.data.from_items(rows), cfg, target(tmp_path, model="tiny")).rows.take_all()
    for row in out:
        assert row["error"] == "" and row["finish_reason"] in {"stop", "length"}
        assert 0 < row["usage"]["completion_tokens"] <= 8 and row["usage"]["prompt_tokens"] > 3


TWO_RUNS_SCRIPT = """
import json, os, pathlib, time, ray, ray.data
from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.openai.config import OpenAISynthConfig
from arctic_ray.synth.keyed import generate_stored

ray.init(address=os.environ["TEST_RAY_ADDRESS"])
synth = OpenAISynthConfig.model_validate_json(os.environ["TEST_SYNTH"])
rows = ray.data.from_items(json.loads(os.environ["TEST_ROWS"])).materialize()
pathlib.Path(os.environ["TEST_READY"]).touch()
while not os.path.exists(os.environ["TEST_GO"]):  # both jobs start sending together
    time.sleep(0.02)
out = generate_stored(rows, synth, Target(**json.loads(os.environ["TEST_TARGET"]))).rows.take_all()
assert len(out) == len(json.loads(os.environ["TEST_ROWS"])) and all(r["error"] == "" for r in out), [
    r["error"] for r in out
]
"""


def test_two_jobs_on_one_key_share_one_budget(ray_local, fake, tmp_path):
    """Two jobs (each its own driver process) with the same key draw on one named budget."""
    fake.reset(latency_s=0.02)
    per_window = 3
    cfg = openai_config(fake, requests_per_minute=per_window * 60, window_s=1.0, batch_size=5)
    name = cfg.shared_budget_name
    assert KEY not in name and KEY_ENV in name and fake.base_url in name
    jobs = []
    for tag in ("joba", "jobb"):
        env = {
            **os.environ,
            "TEST_RAY_ADDRESS": ray_local.get_runtime_context().gcs_address,
            "TEST_SYNTH": cfg.model_dump_json(),
            "TEST_TARGET": json.dumps(target(tmp_path, store=f"store-{tag}").__dict__),
            "TEST_ROWS": json.dumps(prompts(15, tag)),
            "TEST_READY": str(tmp_path / f"{tag}.ready"),
            "TEST_GO": str(tmp_path / "go"),
        }
        jobs.append(subprocess.Popen([sys.executable, "-c", TWO_RUNS_SCRIPT], env=env))
    deadline = time.monotonic() + 600  # limits, not timings: a busy machine is slow
    while not all((tmp_path / f"{tag}.ready").exists() for tag in ("joba", "jobb")):
        assert all(j.poll() is None for j in jobs) and time.monotonic() < deadline
        time.sleep(0.05)
    (tmp_path / "go").touch()
    assert [j.wait(timeout=600) for j in jobs] == [0, 0]
    a = sorted(e.at for e in fake.log if e.prompt.startswith("joba"))
    b = sorted(e.at for e in fake.log if e.prompt.startswith("jobb"))
    assert len(a) == len(b) == 15
    # The one named, detached limiter granted both jobs' requests (a limiter per job would hold 15
    # grants each), and never more than its window allows. Whether the two jobs' sends overlapped
    # in time is the machine's business (a busy one may start the second late): not asserted.
    grants = budget_grants(cfg)
    assert len(grants) >= 30 and busiest_window(grants[-30:], 1.0) <= per_window
