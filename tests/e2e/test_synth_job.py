"""The synthesis job end to end, as a user runs it (`python pipelines/synth.py`, a subprocess
with its own local Ray) against the local OpenAI-compatible server: malformed rows go to the
errors table and the rest goes on; a run SIGKILLed mid-way and resumed finishes every row and
re-sends no request whose answer was stored; the API key is in no file and no log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.fake_openai import FakeOpenAI, Faults
from tests.support.synth_inputs import BAD, GOOD, KEY_ENV, write_inputs

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-job-test-0f9e8d7c6b5a4321"


def ray_tmp(tmp_path: Path) -> Path:
    """Ray's session files for the job's own cluster: a short path (unix socket names are limited)."""
    path = Path("/tmp") / f"rs-{os.getpid()}-{tmp_path.name[-12:]}"
    path.mkdir(exist_ok=True)
    return path


def launch(args: list[str], tmp_path: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, KEY_ENV: SECRET, "RAY_TMPDIR": str(ray_tmp(tmp_path)), "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "pipelines/synth.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stored_keys(store: Path) -> set[str]:
    keys = set()
    for seg in store.glob("seg-*.jsonl"):
        keys |= {json.loads(line)["key"] for line in seg.read_text().splitlines()}
    return keys


def kill_leftovers(marker: Path) -> None:
    """SIGKILL every process of the killed job's Ray cluster (they inherit its RAY_TMPDIR)."""
    import psutil

    def ours(proc) -> bool:
        try:
            return proc.environ().get("RAY_TMPDIR") == str(marker)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            return False

    procs = [p for p in psutil.process_iter() if p.pid != os.getpid() and ours(p)]
    for proc in procs:
        proc.kill()
    psutil.wait_procs(procs, timeout=30)


@pytest.fixture(scope="module")
def slow_server():
    with FakeOpenAI(api_key=SECRET, latency_s=0.5) as srv:
        yield srv


ANSWERED_BEFORE_KILL = 6
IN_FLIGHT = 2
"""The recipe's `max_concurrency` (one actor): the requests out when the server stops answering."""


def test_killed_run_resumes_without_paying_twice(tmp_path, slow_server):
    # A known point to kill at: the server answers 6 requests, then holds every later one.
    slow_server.reset(Faults(hold_after=ANSWERED_BEFORE_KILL))
    recipe = write_inputs(tmp_path, slow_server, timeout_s=60)  # held requests do not time out first
    first = launch(["--recipe", str(recipe)], tmp_path, tmp_path / "first.log")
    deadline = time.monotonic() + 600  # generous: a busy machine is slow, not wrong
    # The 6 answers reach the store on the writer's clock (no further answer arrives to flush them).
    while (
        len(stored_keys(tmp_path / "store")) < ANSWERED_BEFORE_KILL
        or len(slow_server.log) < ANSWERED_BEFORE_KILL + IN_FLIGHT
    ):
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached the point to kill it"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    kill_leftovers(ray_tmp(tmp_path))  # Ray's own processes sit in their own sessions
    held = {e.prompt for e in slow_server.log if e.fault == "held"}
    assert len(held) == IN_FLIGHT and len(slow_server.log) == ANSWERED_BEFORE_KILL + IN_FLIGHT
    stored_at_kill = len(stored_keys(tmp_path / "store"))
    assert stored_at_kill == ANSWERED_BEFORE_KILL
    slow_server.reset()

    (run_dir,) = (tmp_path / "runs").iterdir()
    second = launch(["--resume", str(run_dir)], tmp_path, tmp_path / "second.log")
    assert second.wait(timeout=900) == 0, (tmp_path / "second.log").read_text()[-3000:]

    # Every good row answered, every bad one in the errors table with its reason.
    done = [json.loads(line) for line in (run_dir / "completions.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in done) == sorted(r["id"] for r in GOOD)
    assert all(r["completion"] == slow_server.expected_answer(r["messages"], 6) for r in done)
    reasons = [json.loads(line)["reason"] for line in (run_dir / "errors.jsonl").read_text().splitlines()]
    assert len(reasons) == len(BAD)
    for why in ("`messages`", "content is empty", "'wizard'", "must be a string", "duplicate id 'q3'"):
        assert sum(why in r for r in reasons) == 1, (why, reasons)

    # The resumed run sent only what had no stored answer; requests in flight at the kill are counted.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tally = metrics["tally"]
    assert tally["from_store"] == stored_at_kill
    assert tally["sent"] == len(GOOD) - stored_at_kill == sum(slow_server.sends().values())
    # Exactly the requests out at the kill went twice, and the count says so.
    assert tally["resent_after_crash"] == IN_FLIGHT
    assert held <= set(slow_server.sends())
    assert tally["ok"] == len(GOOD) and tally["refused"] == len(BAD)
    assert tally["spend_usd"] > 0 and tally["prompt_tokens"] > 0

    # The judge chain removed the one answer its rule names, with the stage and reason, and kept the rest.
    curated = sorted(r["id"] for r in pq.read_table(run_dir / "curated").to_pylist())
    assert curated == sorted(r["id"] for r in GOOD if r["id"] != "q7")
    (reject,) = [
        json.loads(line) for f in (run_dir / "curation_rejects").glob("*.json") for line in f.read_text().splitlines()
    ]
    assert (reject["id"], reject["stage"], reject["reason"]) == ("q7", "rules", "refusal phrase 'question 7 '")
    assert [(c["stage"], c["removed"]) for c in metrics["curation"]] == [("rules", 1), ("exact_dedup", 0)]

    # The key is nowhere: not in the run directory, the store, the logs, or Ray's session logs.
    for path in [*tmp_path.rglob("*"), *ray_tmp(tmp_path).rglob("*")]:
        if path.is_file() and not path.is_socket() and path.stat().st_size < 50_000_000:
            assert SECRET.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def test_dry_run_sends_nothing(tmp_path, slow_server):
    recipe = write_inputs(tmp_path, slow_server)
    before = sum(slow_server.sends().values())
    proc = launch(["--recipe", str(recipe), "--dry-run"], tmp_path, tmp_path / "dry.log")
    assert proc.wait(timeout=600) == 0
    out = (tmp_path / "dry.log").read_text()
    assert f"{len(GOOD)} to send" in out and f"{len(BAD)} refused" in out
    assert sum(slow_server.sends().values()) == before
