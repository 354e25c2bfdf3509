"""Nothing assumes one node: a real Ray cluster of a head that runs no work and a worker node
that cannot read the driver's cache or run directories (its own mount namespace, a tmpfs over
them), storage on a real S3-protocol server (moto in server mode). The main job (offline with
the vLLM eval, and online with the teacher) and the synth job run there and finish with the
results they give on one node; models resolve on the worker node by name (the tiny model built
there, a Hub name from that node's own HF cache), checked against the driver's identity. The
online run loses its node mid-run and resumes itself on a new one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from arctic_ray.train.checkpoints import RAY_TRAIN_SNAPSHOT
from tests.support.files import ROOT, write_jsonl
from tests.support.hub_cache import put_in_hub_cache
from tests.support.local_cluster import LocalCluster
from tests.support.s3_server import moto_s3_server
from tests.support.spec_decode_runs import FAST, LEAN_EVAL, check_run

BUCKET = "arctic-ray-test"
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 and a bucket; yields a function giving URIs in it."""
    with moto_s3_server() as port, pytest.MonkeyPatch.context() as env:
        for key, value in AWS.items():
            env.setenv(key, value)
        fs = pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        fs.create_dir(BUCKET)
        yield lambda path: f"s3://{BUCKET}/{path}?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, session_cache, tiny_model):
    root = Path("/tmp") / f"mn-{os.getpid()}"  # outside the hidden directories
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    c = LocalCluster(
        root, {**AWS, "HF_HUB_OFFLINE": "1", "RAY_DATA_DISABLE_PROGRESS_BARS": "1", "RAY_AUTH_MODE": "disabled"}
    )
    c.start_head()
    hidden = [
        str(Path(tmp_path_factory.getbasetemp()).parent)
    ]  # every pytest directory: the driver's cache, runs, data
    assert str(session_cache).startswith(hidden[0])
    c.add_worker("worker0", cpus=6, hide=hidden)
    # the Hub model as that node's own `huggingface-cli download` would have left it
    put_in_hub_cache(tiny_model, root / "worker0" / "hf")
    try:
        c.wait_for_nodes(2)
        yield c
    finally:
        c.stop()


def _run_job(cluster: LocalCluster, script: str, args: list[str], log: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_ADDRESS": cluster.address, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
    )
    log.write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    return proc


def _download(uri: str, to: Path) -> Path:
    fs, path = pafs.FileSystem.from_uri(uri)
    pafs.copy_files(path, str(to), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return to


def _only_run(s3, runs: str, tmp_path: Path) -> tuple[str, Path]:
    fs, path = pafs.FileSystem.from_uri(s3(runs))
    (run,) = [i.base_name for i in fs.get_file_info(pafs.FileSelector(path)) if i.type == pafs.FileType.Directory]
    return s3(f"{runs}/{run}"), _download(s3(f"{runs}/{run}"), tmp_path / "run")


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    lines = ['{"id": "bad", "messages": []}'] + (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()[:40]
    return write_jsonl(tmp_path_factory.mktemp("mn-data") / "prompts.jsonl", lines)


def _overrides(s3, name: str, prompts: Path, extra=()) -> list[str]:
    items = [
        *FAST,
        f"output_dir={s3(name + '/runs')}",
        f"store={s3('store')}",
        f"data.sources=[{{path: {prompts}}}]",
        *extra,
    ]
    return [a for item in items for a in ("--set", item)]


def test_main_job_offline_on_a_worker_node_with_storage_on_s3(cluster, s3, prompts, tmp_path):
    # the vLLM eval on the worker node, lean: the full one is the plain run's (test_spec_decode_job)
    proc = _run_job(
        cluster,
        "pipelines/spec_decode.py",
        ["--tiny", *_overrides(s3, "offline", prompts, LEAN_EVAL)],
        tmp_path / "log",
    )
    uri, local = _only_run(s3, "offline/runs", tmp_path)
    metrics = check_run(local, vllm=True, run_uri=uri, lean=True)
    assert metrics["drafter_dir"].startswith(f"s3://{BUCKET}/offline/runs/")
    assert "resource plan" in proc.stdout
    # a rerun reads every answer from the store on S3 and generates nothing
    again = _run_job(
        cluster,
        "pipelines/spec_decode.py",
        ["--resume", uri, "--set", "eval.vllm=false", "--set", "max_steps=2"],
        tmp_path / "log2",
    )
    rerun = json.loads(_download(f"{uri}", tmp_path / "again").joinpath("metrics.json").read_text())
    assert (
        rerun["counts"]["generations_sent"] == 0
        and rerun["counts"]["generations_reused"] == metrics["counts"]["generations_sent"]
    ), again.stdout[-2000:]
    assert (rerun["counts"]["features_train_reused"], rerun["counts"]["features_eval_reused"]) == (1, 1)  # from S3


def test_synth_job_by_hub_name_gives_the_same_answers_on_one_node_and_on_two(
    cluster, s3, hub_model, prompts, ray_local, tmp_path
):
    from arctic_ray.pipeline import run_file

    recipe = tmp_path / "synth.yaml"
    recipe.write_text(
        f"type: synth\nmodel: {hub_model}\ninput: {{prompts: {prompts}, limit: 12}}\n"
        "synth: {backend: vllm, sampling: {temperature: 0, max_tokens: 16}, max_model_len: 256, "
        "kv_cache_bytes: 67108864}\n"
    )
    here = run_file(str(recipe), [f"output_dir={tmp_path / 'one'}", f"store={tmp_path / 'store-one'}"])
    one = sorted(
        (json.loads(line) for line in Path(here["run_dir"], "completions.jsonl").open()), key=lambda r: r["id"]
    )
    _run_job(
        cluster,
        "pipelines/synth.py",
        ["--recipe", str(recipe), "--set", f"output_dir={s3('synth/runs')}", "--set", f"store={s3('synth-store')}"],
        tmp_path / "log",
    )
    _, local = _only_run(s3, "synth/runs", tmp_path)
    two = sorted((json.loads(line) for line in (local / "completions.jsonl").open()), key=lambda r: r["id"])
    assert len(one) == 12 and [(r["id"], r["completion"], r["completion_token_ids"]) for r in one] == [
        (r["id"], r["completion"], r["completion_token_ids"]) for r in two
    ]


def _said(log: Path) -> str:
    """What the job said of its own (and its errors), without the pages of Ray's logs around it."""
    lines = log.read_text().splitlines()
    return "\n".join(line[:600] for line in lines if "[arctic_ray]" in line or "rror" in line or "[train]" in line)[
        -8000:
    ]


def _first_checkpoint(s3, runs: str, timeout_s: float = 600) -> None:
    """Wait until Ray Train has registered a checkpoint of the run under `runs` on S3 (its
    snapshot names it: the checkpoint's files are all uploaded)."""
    fs, path = pafs.FileSystem.from_uri(s3(runs))
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for info in fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True)):
            if info.base_name == RAY_TRAIN_SNAPSHOT:
                with fs.open_input_stream(info.path) as fh:
                    if json.loads(fh.read()).get("latest_checkpoint_result"):
                        return
        time.sleep(0.5)
    raise TimeoutError(f"no checkpoint under {runs} after {timeout_s:g} s")


@pytest.mark.timeout(900)
def test_a_lost_worker_node_costs_a_resume_from_s3_not_the_run(cluster, s3, prompts, tmp_path, tiny_model):
    """Last in this module: it kills the node the tests above ran on. The online job places its
    teacher beside the trainers on worker0 (the only node with CPUs), checkpoints on S3, and loses
    worker0 after its first checkpoint; a fresh node joins, as the autoscaler would bring one, and
    the same driver resumes the run there from S3 and finishes its planned steps."""
    steps = 12
    extra = [
        "teacher.mode=online",
        f"max_steps={steps}",
        "checkpoint.save_every_n_steps=3",
        "eval.vllm=false",
        "workers.cpus_per_worker=1",
        "teacher.cpus=1",
    ]
    env = {**os.environ, "RAY_ADDRESS": cluster.address, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled",
           "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}  # fmt: skip
    log = tmp_path / "log"
    with log.open("w") as out:
        job = subprocess.Popen(
            [sys.executable, "pipelines/spec_decode.py", "--tiny", *_overrides(s3, "lost", prompts, extra)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _first_checkpoint(s3, "lost/runs")
            cluster.kill_node("worker0")  # the only node with CPUs: the trainers and the teacher were there
            put_in_hub_cache(tiny_model, cluster.root / "worker1" / "hf")
            cluster.add_worker("worker1", cpus=6, hide=[str(Path(tmp_path).parents[1])])
            assert job.wait(timeout=800) == 0, _said(log)
        finally:
            job.kill()
    _, local = _only_run(s3, "lost/runs", tmp_path)
    metrics = json.loads((local / "metrics.json").read_text())
    assert metrics["train"]["steps"] == steps and "stopped" not in metrics and metrics["teacher_mode"] == "online"
    (loss,) = metrics["resumed_after"]
    assert loss["what"] == "node" and loss["stage"] == "train" and loss["checkpoint_step"] >= 3, loss
    assert metrics["train"]["resumed_from_step"] == loss["checkpoint_step"]  # nothing before it trained again
    assert "resuming after the lost node (1 of 2)" in log.read_text()
