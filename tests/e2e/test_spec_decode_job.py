"""The main job end to end on the tiny model: plain `python pipelines/spec_decode.py` (with
self-instruct and the vLLM measurement), its rerun and a synthesis job by `ray job submit`
against a local head, and the GPU recipe stopping where it needs a GPU."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.files import ROOT, write_jsonl
from tests.support.job_api import wait_until_jobs_run
from tests.support.spec_decode_runs import check_run, overrides, run_env


@pytest.fixture(scope="module")
def prompts_with_a_bad_row(tmp_path_factory) -> Path:
    lines = (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()[:40]
    path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    return write_jsonl(path, [json.dumps({"id": "broken", "messages": "not a list"}), *lines])


@contextmanager
def local_head(env: dict, port: str) -> Iterator[str]:
    """A Ray head with the job API, `ray start --block` in its own session: stopping it touches
    only this head, never the test session's own cluster (`ray stop` would end every Ray process
    on the machine). Yields the job API's address once it takes jobs."""
    ray_bin = Path(sys.executable).parent / "ray"
    head = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            "--block",
            "--num-cpus=8",
            f"--temp-dir=/tmp/ray-job-{os.getpid()}",
            "--port=6390",
            f"--dashboard-port={port}",
            "--include-dashboard=true",
            "--disable-usage-stats",
            # fixed ports of their own: the test session's cluster already holds Ray's defaults
            "--dashboard-agent-listen-port=52465",
            "--dashboard-agent-grpc-port=52466",
            "--metrics-export-port=52467",
            "--runtime-env-agent-port=52468",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def submitted(address: str, *command: str) -> list[str]:
    ray_bin = Path(sys.executable).parent / "ray"
    return [str(ray_bin), "job", "submit", f"--address={address}", "--working-dir", ".", "--", "python", *command]


@pytest.mark.timeout(1500)  # three jobs, each with its own limit below
def test_plain_python_run_then_a_submitted_rerun_and_a_submitted_synth_job_with_a_key(
    tmp_path, session_cache, prompts_with_a_bad_row
):
    """The main job as plain `python pipelines/spec_decode.py` (self-instruct, the vLLM
    measurement); its rerun (`--resume`) submitted with `ray job submit` to a local head, finding
    every generation in the store; then a synthesis job that uses an API key, submitted too. The
    key reaches the job the way a cluster gives it (the environment of `ray start` and of the
    submitter), and appears in no job metadata, runtime env, log line or output file."""
    import uuid

    from ray.job_submission import JobSubmissionClient

    from tests.support.fake_openai import FakeOpenAI
    from tests.support.synth_inputs import KEY_ENV, write_inputs

    topics = tmp_path / "topics.txt"
    topics.write_text("volcanoes\nbaking bread\n")
    curve = tmp_path / "points.json"  # a scaling curve of the tiny model, wide enough to hold the run
    points = [{"tokens": t, "speedup_foreign": v, "temperature": 0.0} for t, v in ((100, 1.0), (10**6, 1.4))]
    curve.write_text(json.dumps({"model": "tiny", "points": points, "baselines_foreign": {"suffix": 1.3}}))
    extra = [
        f"data.sources=[{{path: {prompts_with_a_bad_row}}}]",
        "self_instruct.enabled=true",
        f"self_instruct.topics={topics}",
        "self_instruct.per_topic=2",
        f"eval.scaling_curve={curve}",
    ]
    cmd = [sys.executable, "pipelines/spec_decode.py", "--tiny", *overrides(tmp_path, extra)]
    proc = subprocess.run(cmd, cwd=ROOT, env=run_env(session_cache), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run_dir,) = list((tmp_path / "runs").iterdir())
    metrics = check_run(run_dir, vllm=True)
    assert metrics["counts"]["self_instruct_asked"] == 4
    said = proc.stdout
    assert "vLLM at batch 1, held-out training-style prompts: drafter" in said and f"run directory: {run_dir}" in said
    assert "vLLM at batch 1, foreign prompts (other styles): drafter" in said
    assert metrics["counts"]["generations_sent"] > 0
    at = metrics["scaling_position"]
    assert at["tokens"] == metrics["counts"]["train_completion_tokens"] and 1.0 < at["speedup_foreign"] < 1.4
    assert (
        "completion tokens, between the measured 100 and 1,000,000 on the scaling curve"
        in (run_dir / "report.md").read_text()
    )

    secret = f"sk-submit-{uuid.uuid4().hex}"  # made here: no source file the job uploads holds it
    # The job's `python` is the head's: put this environment's first on its PATH.
    env = {**run_env(session_cache), "RAY_AUTH_MODE": "disabled", KEY_ENV: secret}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    with local_head(env, "8275") as address:
        probe = wait_until_jobs_run(address)
        # --resume: the same recipe into the same directory finds every generation in the store
        rerun = submitted(address, "pipelines/spec_decode.py", "--resume", str(run_dir), "--set", "eval.vllm=false")
        proc = subprocess.run(rerun, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0 and "succeeded" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]
        again = check_run(run_dir, vllm=False)  # its tables replaced the first run's, not added to them
        assert again["counts"]["generations_sent"] == 0
        c = metrics["counts"]
        assert again["counts"]["generations_reused"] == c["train_prompts"] + c["eval_prompts"] == c["generations_sent"]
        assert again["train"]["steps"] > 0 and again["vllm"] is None
        # the same rows on the same base: the stored features are read back, not prefilled again
        assert (c["features_train_reused"], again["counts"]["features_train_reused"]) == (0, 1)
        assert again["counts"]["features_train_bytes"] == c["features_train_bytes"]

        with FakeOpenAI(api_key=secret) as server:
            (tmp_path / "synth").mkdir()
            recipe = write_inputs(tmp_path / "synth", server)
            synth = submitted(address, "pipelines/synth.py", "--recipe", str(recipe))
            proc = subprocess.run(synth, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0 and "succeeded" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
            assert sum(server.sends().values()) > 0  # the key worked: the server accepted the requests

        client = JobSubmissionClient(address)
        jobs = [j for j in client.list_jobs() if j.submission_id != probe]
        assert len(jobs) == 2 and all(j.status == "SUCCEEDED" for j in jobs)
        seen = [json.dumps(j.dict(), default=str) for j in jobs] + [client.get_job_logs(j.submission_id) for j in jobs]
        assert not any(secret in text for text in seen), "the key is in the job metadata, runtime env or logs"
        leaked = [
            p
            for root in (tmp_path, Path(f"/tmp/ray-job-{os.getpid()}"))
            for p in root.rglob("*")
            if p.is_file() and secret.encode() in p.read_bytes()
        ]
        assert not leaked, f"the key leaked into {leaked[:5]}"


def test_the_gpu_recipe_with_a_hub_name_resolves_then_stops_where_it_needs_a_gpu(
    tmp_path, session_cache, hub_model, prompts_with_a_bad_row
):
    """`examples/spec_decode_gpu.yaml` on this CPU machine, its model a Hugging Face name in the
    HF cache (offline): model resolution passes (config and tokenizer from the snapshot), and the
    run stops at once with the reason when no node can hold what the recipe asks for."""
    sets = [
        f"model.name_or_path={hub_model}",
        f"data.sources=[{{path: {prompts_with_a_bad_row}}}]",
        f"output_dir={tmp_path}/runs",
        "ray.local_num_cpus=4",
    ]
    cmd = [
        sys.executable,
        "pipelines/spec_decode.py",
        "--recipe",
        "examples/spec_decode_gpu.yaml",
        *[a for s in sets for a in ("--set", s)],
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=run_env(session_cache), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "not in this node's Hugging Face cache" not in proc.stderr and "Traceback" not in proc.stderr
    assert (
        "needs one node with" in proc.stderr
        and "0 GPUs" in proc.stderr
        and "a GPU recipe on a machine without GPUs" in proc.stderr
    )
