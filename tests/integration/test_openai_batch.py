"""The Batch API backends against a local Files + Batch server, through the real `openai` client:
shards within limits, exact joins, nothing paid twice (reruns, expired batches, a process killed
between create and the manifest write or while polling), spend limit, Azure routes, no secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arctic_ray.synth.backend import PricingConfig, Target
from arctic_ray.synth.backends.openai_batch.config import AzureOpenAIBatchSynthConfig, OpenAIBatchSynthConfig
from arctic_ray.synth.keyed import generate_stored, row_key
from arctic_ray.synth.store import GenerationStore
from tests.support.fake_batch_server import FakeBatchServer, Faults

KEY_ENV = "FAKE_BATCH_API_KEY"
MODEL = "gpt-test"


@pytest.fixture
def server(monkeypatch):
    srv = FakeBatchServer().start()
    monkeypatch.setenv(KEY_ENV, srv.api_key)
    yield srv
    srv.stop()


def prompts(n: int) -> list[dict]:
    return [{"id": f"r{i}", "messages": [{"role": "user", "content": f"prompt number {i}"}]} for i in range(n)]


def openai_synth(server: FakeBatchServer, **kw) -> OpenAIBatchSynthConfig:
    connection = {"base_url": f"{server.url}/v1", "api_key_env": KEY_ENV}
    return OpenAIBatchSynthConfig(connection=connection, poll_interval_s=0.05, sampling={"max_tokens": 16}, **kw)


def target_in(tmp_path: Path, run_dir: bool = True) -> Target:
    run_path = str(tmp_path / "run") if run_dir else None
    return Target(model=MODEL, model_name=MODEL, model_key=MODEL, store=str(tmp_path / "store"), run_dir=run_path)


def run(rows: list[dict], synth, target: Target) -> tuple[list[dict], object]:
    import ray.data

    gen = generate_stored(ray.data.from_items(rows, override_num_blocks=1), synth, target)
    return sorted(gen.rows.take_all(), key=lambda r: int(r["id"][1:])), gen


def manifest(target: Target) -> dict:
    (path,) = Path(target.store).glob("batch-*.json")  # in the store, whatever the run directory
    return json.loads(path.read_text())


def assert_answered(row: dict) -> None:
    assert row["error"] == "" and row["finish_reason"] == "stop"
    assert row["completion"] == FakeBatchServer.answer_text(row["messages"])
    assert row["usage"]["prompt_tokens"] > 0 and row["backend"] == "openai_batch" and row["model"] == MODEL


def test_every_row_answered_once_files_deleted_rerun_sends_nothing(ray_local, server, tmp_path):
    synth = openai_synth(server, limits={"max_requests": 3, "max_enqueued_tokens": 30}, max_active_batches=2)
    target = target_in(tmp_path, run_dir=False)  # the manifest lives in the store
    rows, gen = run(prompts(10), synth, target)
    assert len(rows) == 10 and gen.sent == 10
    for row in rows:
        assert_answered(row)
    assert [u["bytes"] <= synth.limits.max_bytes and len(u["lines"]) <= 3 for u in server.uploads] == [True] * 4
    line = server.uploads[0]["lines"][0]
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions" and line["body"]["model"] == MODEL
    assert line["body"]["max_tokens"] == 16 and line["custom_id"] in {r["key"] for r in rows}
    assert set(server.counts.requests) == {r["key"] for r in rows} and set(server.counts.requests.values()) == {1}
    assert server.live_files() == []  # inputs, outputs and error files all deleted
    shards = manifest(target)["shards"]
    assert [s["state"] for s in shards] == ["collected"] * 4 and all(s["files_deleted"] for s in shards)
    assert not list((tmp_path / "store").glob("batch-*/*"))  # local shard files gone too
    assert len(GenerationStore(target.store).get_many([r["key"] for r in rows])) == 10

    creates = server.counts.creates
    rows, gen = run(prompts(10), synth, target)
    assert server.counts.creates == creates and gen.sent == 0 and gen.reused == 10
    assert [r["completion"] for r in rows] == [FakeBatchServer.answer_text(r["messages"]) for r in rows]
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and server.api_key.encode() in p.read_bytes()]
    assert leaked == []


def test_join_is_exact_and_failures_keep_their_reason(ray_local, server, tmp_path):
    synth = openai_synth(server)
    target = target_in(tmp_path)
    data = prompts(12)
    keys = [row_key(synth, r, MODEL) for r in data]
    server.faults.error_rate, server.faults.seed = 0.25, 7
    server.faults.drop_ids, server.faults.duplicate_ids, server.faults.unknown_ids = {keys[0]}, {keys[1]}, ["not-a-row"]
    rows, _ = run(data, synth, target)
    assert len(rows) == 12  # nothing dropped
    assert rows[0]["error"].startswith("no answer for this request")
    assert "more than once" in rows[1]["error"]
    seeded = [r for r in rows[2:] if r["error"]]
    assert seeded and all(
        r["error"].startswith("HTTP 400: seeded failure") and r["finish_reason"] == "error" for r in seeded
    )
    answered = [r for r in rows if not r["error"]]
    for row in answered:
        assert_answered(row)
    assert set(GenerationStore(target.store).get_many(keys)) == {r["key"] for r in answered}
    (shard,) = manifest(target)["shards"]
    assert any("not-a-row" in p for p in shard["problems"]) and any(keys[1] in p for p in shard["problems"])
    assert shard["answered"] == len(answered) and shard["failed"] == 12 - len(answered)

    server.faults = Faults()  # failures are asked again on the next run, answers come from the store
    rows, gen = run(data, synth, target)
    for row in rows:
        assert_answered(row)
    assert gen.reused == len(answered) and gen.sent == 12 - len(answered)
    assert gen.resent == 0  # they failed (settled in the sent log), they were not in flight at a crash
    assert {k for k, n in server.counts.requests.items() if n == 2} == {r["key"] for r in rows} - {
        r["key"] for r in answered
    }


def test_expired_batch_sends_only_its_missing_rows_again(ray_local, server, tmp_path):
    server.faults.expire_batches, server.faults.expire_keep = 1, 0.5
    rows, _ = run(prompts(8), openai_synth(server), target_in(tmp_path))
    for row in rows:
        assert_answered(row)
    first, again = server.uploads[0]["lines"], server.uploads[1]["lines"]
    assert [line["custom_id"] for line in again] == [line["custom_id"] for line in first[4:]]
    assert server.counts.creates == 2 and sorted(server.counts.requests.values()) == [1] * 4 + [2] * 4
    assert server.live_files() == []


def test_a_failed_create_that_made_a_batch_is_adopted(ray_local, server, tmp_path):
    server.faults.create_errors = 1  # the batch exists, the client sees a 500
    rows, _ = run(prompts(4), openai_synth(server), target_in(tmp_path))
    for row in rows:
        assert_answered(row)
    assert server.counts.creates == 1


def test_spend_limit_stops_new_shards(ray_local, server, tmp_path):
    # $1 a prompt token: a shard of 3 is estimated at $21 and costs $12; a second would pass $25
    pricing = PricingConfig(input_per_million=1e6)
    synth = openai_synth(server, limits={"max_requests": 3}, max_active_batches=1, pricing=pricing, spend_limit=25)
    rows, _ = run(prompts(7), synth, target_in(tmp_path))
    answered = [r for r in rows if not r["error"]]
    assert len(answered) == 3 and all(r["error"].startswith("spend_limit reached") for r in rows if r["error"])
    assert server.counts.creates == 1 and server.live_files() == []


def test_azure_routes_and_deployment(ray_local, server, tmp_path, monkeypatch):
    synth = AzureOpenAIBatchSynthConfig(
        connection={"endpoint": server.url, "api_key_env": KEY_ENV}, poll_interval_s=0.05
    )
    target = Target(model="my-deployment", model_name=MODEL, model_key="my-deployment", store=str(tmp_path / "store"))
    data = prompts(3) + [{**prompts(1)[0], "id": "r3"}]  # greedy: the same request twice is one custom_id
    rows, _ = run(data, synth, target)
    assert all(r["error"] == "" and r["backend"] == "azure_openai_batch" for r in rows) and len(rows) == 4
    assert len(server.uploads[0]["lines"]) == 3 and rows[0]["completion"] == rows[3]["completion"]
    line = server.uploads[0]["lines"][0]
    assert line["url"] == "/chat/completions" and line["body"]["model"] == "my-deployment"
    assert server.live_files() == []


SCRIPT = """
import json, os, ray, ray.data
from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.openai_batch.config import OpenAIBatchSynthConfig
from arctic_ray.synth.keyed import generate_stored

ray.init(address=os.environ["TEST_RAY_ADDRESS"])
synth = OpenAIBatchSynthConfig.model_validate_json(os.environ["TEST_SYNTH"])
rows = ray.data.from_items(json.loads(os.environ["TEST_ROWS"]), override_num_blocks=1)  # one block: one worker to start
generate_stored(rows, synth, Target(**json.loads(os.environ["TEST_TARGET"]))).rows.take_all()
"""


def start_run(ray_local, synth, target: Target, rows: list[dict]) -> subprocess.Popen:
    env = {
        **os.environ,
        "TEST_RAY_ADDRESS": ray_local.get_runtime_context().gcs_address,
        "TEST_SYNTH": synth.model_dump_json(),
        "TEST_TARGET": json.dumps(target.__dict__),
        "TEST_ROWS": json.dumps(rows),
    }
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env)


def kill_when(proc: subprocess.Popen, ready, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert proc.poll() is None, "the run ended before the moment to kill it"
        assert time.monotonic() < deadline, "the run never reached the moment to kill it"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_between_create_and_manifest_write_pays_once(ray_local, server, tmp_path):
    synth = openai_synth(server, limits={"max_requests": 3})
    target, data = target_in(tmp_path), prompts(6)
    server.faults.create_delay_s = 60  # the batch exists; its id never reaches the client
    kill_when(start_run(ray_local, synth, target, data), lambda: server.counts.creates == 1)
    assert [s["state"] for s in manifest(target)["shards"]] == ["uploaded", "planned"]
    server.faults.create_delay_s = 0
    rows, _ = run(data, synth, target)
    for row in rows:
        assert_answered(row)
    assert server.counts.creates == 2 and set(server.counts.requests.values()) == {1}
    assert server.live_files() == []


def test_killed_while_polling_adopts_its_batches(ray_local, server, tmp_path):
    synth = openai_synth(server, limits={"max_requests": 3})
    target, data = target_in(tmp_path), prompts(6)
    server.faults.complete_after_s = 600

    def polling() -> bool:
        made = list(Path(target.store).glob("batch-*.json"))
        return bool(made) and [s["state"] for s in json.loads(made[0].read_text())["shards"]] == ["submitted"] * 2

    kill_when(start_run(ray_local, synth, target, data), polling)
    server.faults.complete_after_s = 0.1
    rows, _ = run(data, synth, target)
    for row in rows:
        assert_answered(row)
    assert server.counts.creates == 2 and set(server.counts.requests.values()) == {1}
    assert server.live_files() == []


def test_a_rerun_in_a_new_run_directory_adopts_the_crashed_runs_batch(ray_local, server, tmp_path):
    """Without --resume: the same recipe in a fresh run directory buys nothing twice."""
    synth = openai_synth(server, limits={"max_requests": 3})
    data = prompts(6)
    server.faults.create_delay_s = 60  # killed while its batch is being created
    kill_when(start_run(ray_local, synth, target_in(tmp_path / "first"), data), lambda: server.counts.creates == 1)
    server.faults.create_delay_s = 0
    first, rerun = target_in(tmp_path / "first"), target_in(tmp_path / "second")
    rerun = Target(**{**rerun.__dict__, "store": first.store})  # the recipe's store, a new run directory
    rows, gen = run(data, synth, rerun)
    for row in rows:
        assert_answered(row)
    assert server.counts.creates == 2 and set(server.counts.requests.values()) == {1}
    assert len(server.uploads) == 2 and server.live_files() == []
    # The crashed batch was found and downloaded, not sent again: nothing counts as re-sent.
    assert gen.resent == 0


def test_a_create_waits_until_its_input_file_is_processed(ray_local, server, tmp_path):
    server.faults.process_after_s = 0.5  # Azure keeps an upload `uploaded` a while and refuses creates
    rows, _ = run(prompts(3), openai_synth(server), target_in(tmp_path))
    for row in rows:
        assert_answered(row)
    assert server.early_creates == 0 and server.counts.creates == 1


def test_a_delete_the_server_refuses_loses_no_answer_and_is_recorded(ray_local, server, tmp_path, caplog):
    server.faults.delete_status = 405  # a server without the route
    synth, target = openai_synth(server), target_in(tmp_path)
    rows, _ = run(prompts(3), synth, target)
    for row in rows:
        assert_answered(row)
    (shard,) = manifest(target)["shards"]
    assert shard["state"] == "collected" and not shard["files_deleted"]
    assert set(shard["undeleted_files"]) == {shard["input_file_id"], shard["output_file_id"]}
    assert synth.report(target) == {"files_not_deleted": 2}
    assert "could not delete file" in caplog.text
    server.faults.delete_status = None  # the next run that sends cleans up what this one could not
    run(prompts(4), synth, target)
    assert server.live_files() == [] and synth.report(target) == {"files_not_deleted": 0}
