"""The main job end to end on the tiny model: plain `python pipelines/spec_decode.py` and
`ray job submit` against a local head."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_jsonl

FAST = [
    "data.limit=40",
    "synth.sampling.max_tokens=32",
    "train.epochs=2",
    "train.seq_len=96",
    "train.log_every=2",
]


def _env(cache: Path) -> dict:
    env = {**os.environ, "ARCTIC_RAY_CACHE": str(cache), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    env.pop("RAY_ADDRESS", None)
    return env


def _overrides(out: Path, extra=()) -> list[str]:
    args = []
    for item in [*FAST, f"output_dir={out}", *extra]:
        args += ["--set", item]
    return args


def _check_run(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    counts = metrics["counts"]
    assert counts["prompts_in"] == 41 and counts["prompts_rejected"] == 1
    assert counts["kept"] + counts["duplicates_dropped"] + counts["generation_errors"] == 40
    assert counts["train_sequences"] + counts["holdout_sequences"] + counts["too_short_or_long"] == counts["kept"]
    generations = [json.loads(line) for f in sorted((run_dir / "generations").glob("*.json")) for line in f.open()]
    assert len(generations) == counts["kept"] and all(g["completion_token_ids"] for g in generations)
    rejects = [json.loads(line) for line in (run_dir / "rejects.jsonl").open()]
    assert (rejects[0]["stage"], rejects[0]["line"]) == ("read", 1)
    assert metrics["train"]["steps"] > 0
    assert metrics["train"]["final_loss"] < metrics["train"]["loss_history"][0]
    assert len(set(metrics["train"]["rank_param_digests"])) == 1
    assert metrics["tau"] >= 1.0 and metrics["tau_untrained"] >= 1.0
    assert len(metrics["head_accuracy"]) == 3
    assert metrics["greedy_agreement"] > 0.9  # generations are the base model's greedy path
    from arctic_ray.models.mlp_speculator import MLPSpeculator

    assert MLPSpeculator.load(metrics["speculator_dir"]).spec.n_predict == 3
    report = (run_dir / "report.md").read_text()
    assert f"{metrics['tau']:.3f}" in report and str(run_dir) in report
    return metrics


@pytest.fixture(scope="module")
def prompts_with_a_bad_row(tmp_path_factory) -> Path:
    lines = (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()[:40]
    path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    return write_jsonl(path, [json.dumps({"id": "broken", "messages": "not a list"}), *lines])


def test_plain_python_run(tmp_path, session_cache, prompts_with_a_bad_row):
    cmd = [sys.executable, "pipelines/spec_decode.py", "--tiny", *_overrides(tmp_path, [f"data.prompts={prompts_with_a_bad_row}"])]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run_dir,) = list(tmp_path.iterdir())
    _check_run(run_dir)
    assert "tau (tokens per base forward" in proc.stdout and f"run directory: {run_dir}" in proc.stdout


def test_user_errors_are_one_clear_line(tmp_path, session_cache):
    bad = write_jsonl(tmp_path / "p.jsonl", ['{"id": "a", "messages": [{"role": "user", "content": "x"}]}', "{oops"])
    cases = {
        f"data.prompts={bad}": f"{bad}:2: not valid JSON",
        f"data.prompts={tmp_path / 'absent.jsonl'}": "prompt file not found",
        "train.learning_rate=1": "train.learning_rate: unknown field",
    }
    for override, message in cases.items():
        cmd = [sys.executable, "pipelines/spec_decode.py", "--tiny", "--set", override, "--set", f"output_dir={tmp_path}/runs"]
        proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started for a run that could not start


def test_ray_job_submit(tmp_path, session_cache, prompts_with_a_bad_row):
    ray_bin = Path(sys.executable).parent / "ray"
    # The job's `python` is the head's: put this environment's first on its PATH.
    env = {**_env(session_cache), "RAY_AUTH_MODE": "disabled"}
    env["PATH"] = f"{ray_bin.parent}{os.pathsep}{env['PATH']}"
    port = "8275"
    # `ray start --block` in its own session: stopping it touches only this head, never the test
    # session's own cluster (`ray stop` would end every Ray process on the machine).
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--num-cpus=8", f"--temp-dir=/tmp/ray-job-{os.getpid()}",
         "--port=6390", f"--dashboard-port={port}", "--include-dashboard=true", "--disable-usage-stats",
         # fixed ports of their own: the test session's cluster already holds Ray's defaults
         "--dashboard-agent-listen-port=52465", "--dashboard-agent-grpc-port=52466",
         "--metrics-export-port=52467", "--runtime-env-agent-port=52468"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        submit = [str(ray_bin), "job", "submit", f"--address=http://127.0.0.1:{port}", "--working-dir", ".", "--",
                  "python", "pipelines/spec_decode.py", "--tiny",
                  *_overrides(tmp_path, [f"data.prompts={prompts_with_a_bad_row}"])]
        for _ in range(60):  # the dashboard's job API comes up a little after the head starts
            proc = subprocess.run(submit, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            output = proc.stdout + proc.stderr
            if not any(word in output for word in ("Connection refused", "try again later")):
                break
            time.sleep(2)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "succeeded" in proc.stdout
        (run_dir,) = list(tmp_path.iterdir())
        _check_run(run_dir)
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
