"""The main job end to end on the tiny model: plain `python pipelines/spec_decode.py` (with
self-instruct and the vLLM measurement) and `ray job submit` against a local head."""

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
    "teacher.gen_seq_length=128",
    "epochs=2",
    "data.max_length=128",
    "log_every=2",
    "eval.num_prompts=4",
    "eval.max_tokens=32",
    "eval.repeats=1",
]


def _env(cache: Path) -> dict:
    env = {**os.environ, "ARCTIC_RAY_CACHE": str(cache), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    env.pop("RAY_ADDRESS", None)
    return env


def _overrides(out: Path, extra=()) -> list[str]:
    args = []
    for item in [*FAST, f"output_dir={out / 'runs'}", f"store={out / 'store'}", *extra]:
        args += ["--set", item]
    return args


def _check_run(run_dir: Path, vllm: bool, run_uri: str | None = None) -> dict:
    """A finished run's files (downloaded to `run_dir` when the run went to `run_uri`)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    c = metrics["counts"]
    assert c["prompts_in"] == 41 and c["prompts_rejected"] == 1
    assert c["eval_prompts"] == 4 and c["train_prompts"] + c["eval_prompts"] + c["prompts_unusable"] == 40 + c.get(
        "self_instruct_added", 0
    )
    assert c["kept"] + c["duplicates_dropped"] + c["generation_errors"] == c["train_prompts"]
    assert c["train_sequences"] + c["too_short_or_long"] == c["kept"]
    generations = [json.loads(line) for f in sorted((run_dir / "generations").glob("*.json")) for line in f.open()]
    assert len(generations) == c["kept"] and all(g["completion_token_ids"] for g in generations)
    rejects = [json.loads(line) for line in (run_dir / "rejects.jsonl").open()]
    assert (rejects[0]["stage"], rejects[0]["line"]) == ("read", 1)
    train = metrics["train"]
    assert train["steps"] > 0 and train["final_loss"] < train["history"][0]["loss"]
    sim = metrics["simulated"]
    assert sim["trained"]["drafts"] > 0 and len(sim["trained"]["accept_per_pos"]) == 3
    from arctic_ray.core.storage import local_copy, location
    from arctic_ray.methods.spec_decode.drafters.eagle3.export import load_eagle3

    assert load_eagle3(local_copy(metrics["drafter_dir"])).config.ttt_steps == 3
    report = (run_dir / "report.md").read_text()
    assert f"{sim['trained']['tau_sim']:.3f}" in report and (run_uri or str(run_dir)) in report
    assert (run_dir / "training.png").stat().st_size > 0 and (run_dir / "acceptance.png").stat().st_size > 0
    if vllm:
        v = metrics["vllm"]
        assert (
            set(v) == {"none", "ngram", "suffix", "drafter_k1", "drafter_k2", "drafter"}
            and v["drafter"]["greedy"]["drafts"] > 0
        )
        assert v["drafter"]["outputs_equal_plain"] >= 0.75
        batch_sizes = set(v["none"]["tok_s"])
        assert batch_sizes == {"1", "2"}  # the tiny recipe's
        for name in ("ngram", "suffix"):  # the baselines, same prompts and batch sizes
            assert (
                set(v[name]["tok_s"]) == batch_sizes
                and min(v[name]["tok_s"].values()) > 0
                and v[name]["greedy"]["drafts"] > 0
            )
            assert "sampled" not in v[name]
        # no cache of past answers: the timed passes repeat the same prompts
        assert v["suffix"]["speculative_config"] == {
            "method": "suffix",
            "num_speculative_tokens": 8,
            "suffix_decoding_max_cached_requests": 0,
        }
        # the drafter at every k up to n_predict (3), sampled only at its own
        sweep = {k: v["drafter" if k == 3 else f"drafter_k{k}"] for k in (1, 2, 3)}
        assert all(
            r["speculative_config"]["num_speculative_tokens"] == k and set(r["tok_s"]) == batch_sizes
            for k, r in sweep.items()
        )
        assert "sampled" in v["drafter"] and "sampled" not in sweep[1] and "sampled" not in sweep[2]
        # the export says which k to serve at each measured batch size: the fastest measured
        config = json.loads(location(metrics["drafter_dir"]).join("config.json").read_text())
        serving = config["arctic_ray_serving"]
        assert serving == metrics["serving"] and set(serving["best_num_speculative_tokens"]) == batch_sizes
        for bs in batch_sizes:
            rates = {k: r["tok_s"][bs] for k, r in sweep.items()}
            assert serving["best_num_speculative_tokens"][bs] == max(rates, key=rates.get)
        assert serving["measured_on"].startswith("vLLM 0.32") and "CPU" in serving["measured_on"]
        assert "![throughput](throughput.png)" in report and (run_dir / "throughput.png").is_file()
        assert "| suffix | 1 |" in report and "## Number of speculative tokens k, by batch size" in report
    else:
        assert metrics["vllm"] is None and metrics["serving"] is None
    return metrics


@pytest.fixture(scope="module")
def prompts_with_a_bad_row(tmp_path_factory) -> Path:
    lines = (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()[:40]
    path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    return write_jsonl(path, [json.dumps({"id": "broken", "messages": "not a list"}), *lines])


def test_plain_python_run_then_rerun(tmp_path, session_cache, prompts_with_a_bad_row):
    topics = tmp_path / "topics.txt"
    topics.write_text("volcanoes\nbaking bread\n")
    extra = [
        f"data.sources=[{{path: {prompts_with_a_bad_row}}}]",
        "self_instruct.enabled=true",
        f"self_instruct.topics={topics}",
        "self_instruct.per_topic=2",
    ]
    cmd = [sys.executable, "pipelines/spec_decode.py", "--tiny", *_overrides(tmp_path, extra)]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run_dir,) = list((tmp_path / "runs").iterdir())
    metrics = _check_run(run_dir, vllm=True)
    assert metrics["counts"]["self_instruct_asked"] == 4
    assert "vLLM at batch 1: drafter" in proc.stdout and f"run directory: {run_dir}" in proc.stdout
    assert metrics["counts"]["generations_sent"] > 0

    # --resume: the same recipe into the same directory finds every generation in the store
    cmd = [sys.executable, "pipelines/spec_decode.py", "--resume", str(run_dir), "--set", "eval.vllm=false"]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    again = json.loads((run_dir / "metrics.json").read_text())
    assert again["counts"]["generations_sent"] == 0
    c = metrics["counts"]
    assert again["counts"]["generations_reused"] == c["train_prompts"] + c["eval_prompts"] == c["generations_sent"]


def test_user_errors_are_one_clear_line(tmp_path, session_cache):
    bad = write_jsonl(tmp_path / "p.jsonl", ['{"id": "a", "messages": [{"role": "user", "content": "x"}]}', "{oops"])
    cases = {
        f"data.sources=[{{path: {bad}}}]": f"{bad}:2: not valid JSON",
        f"data.sources=[{{path: {tmp_path / 'absent.jsonl'}}}]": "data source not found",
        "optimizer.learning_rate=1": "optimizer.learning_rate: unknown field",
        "train.lr=1": "train.lr: moved to optimizer.lr",
        "speculator.type=medusa": "speculator.type",
    }
    for override, message in cases.items():
        cmd = [
            sys.executable,
            "pipelines/spec_decode.py",
            "--tiny",
            "--set",
            override,
            "--set",
            f"output_dir={tmp_path}/runs",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started for a run that could not start


def test_ray_job_submit(tmp_path, session_cache, prompts_with_a_bad_row):
    """The main job, then a synthesis job that uses an API key, submitted to a local head. The key
    reaches the job the way a cluster gives it (the environment of `ray start` and of the
    submitter), and appears in no job metadata, runtime env, log line or output file."""
    import uuid

    from tests.fake_openai import FakeOpenAI
    from tests.test_synth_job import KEY_ENV, write_inputs

    secret = f"sk-submit-{uuid.uuid4().hex}"  # made here: no source file the job uploads holds it

    ray_bin = Path(sys.executable).parent / "ray"
    # The job's `python` is the head's: put this environment's first on its PATH.
    env = {**_env(session_cache), "RAY_AUTH_MODE": "disabled", KEY_ENV: secret}
    env["PATH"] = f"{ray_bin.parent}{os.pathsep}{env['PATH']}"
    port = "8275"
    # `ray start --block` in its own session: stopping it touches only this head, never the test
    # session's own cluster (`ray stop` would end every Ray process on the machine).
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
        # vLLM measurement is covered by the plain run; here the job path is what is tested
        submit = [
            str(ray_bin),
            "job",
            "submit",
            f"--address=http://127.0.0.1:{port}",
            "--working-dir",
            ".",
            "--",
            "python",
            "pipelines/spec_decode.py",
            "--tiny",
            *_overrides(tmp_path, [f"data.sources=[{{path: {prompts_with_a_bad_row}}}]", "eval.vllm=false"]),
        ]
        for _ in range(60):  # the dashboard's job API comes up a little after the head starts
            proc = subprocess.run(submit, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            output = proc.stdout + proc.stderr
            if not any(word in output for word in ("Connection refused", "try again later")):
                break
            time.sleep(2)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "succeeded" in proc.stdout
        (run_dir,) = list((tmp_path / "runs").iterdir())
        _check_run(run_dir, vllm=False)
        with FakeOpenAI(api_key=secret) as server:
            (tmp_path / "synth").mkdir()
            recipe = write_inputs(tmp_path / "synth", server)
            synth = [
                str(ray_bin),
                "job",
                "submit",
                f"--address=http://127.0.0.1:{port}",
                "--working-dir",
                ".",
                "--",
                "python",
                "pipelines/synth.py",
                "--recipe",
                str(recipe),
            ]
            proc = subprocess.run(synth, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0 and "succeeded" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
            assert sum(server.sends().values()) > 0  # the key worked: the server accepted the requests
        from ray.job_submission import JobSubmissionClient

        client = JobSubmissionClient(f"http://127.0.0.1:{port}")
        jobs = client.list_jobs()
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
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


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
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(session_cache), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "not in this node's Hugging Face cache" not in proc.stderr and "Traceback" not in proc.stderr
    assert (
        "needs one node with" in proc.stderr
        and "0 GPUs" in proc.stderr
        and "a GPU recipe on a machine without GPUs" in proc.stderr
    )
