"""Runs a registered trainer on a Ray Train TorchTrainer: one worker per data-parallel rank, the
phase datasets split across them with `get_dataset_shard`, the eval set read by every rank."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import ray
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig, TrainingFailedError
from ray.train.torch import TorchConfig, TorchTrainer

from arctic_ray.core.stops import RunStopped, stopped_by
from arctic_ray.core.storage import Location
from arctic_ray.train.checkpoints import EXPORT_DIR, METRICS_FILE, latest_checkpoint
from arctic_ray.train.run import TrainRun, WorkerPlan, streams, worker_plan
from arctic_ray.train.sharding import ShardingDataConfig


def _worker_entry(config: dict) -> None:
    plan: WorkerPlan = config["plan"]
    plan.trainer(plan).fit()  # the class itself travels: a worker needs no registry of trainers


def run_trainer(run: TrainRun):
    cfg, workers = run.train, run.train.workers
    # Ray Train V2 gives a worker group 30 s to start by default; a busy laptop can need more.
    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", str(workers.start_timeout_s))
    # Workers' stdout already reaches the driver; Train's print patch would log every line twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    stream_names = streams(run)
    resources = {"CPU": workers.cpus_per_worker}
    if workers.gpus_per_worker:
        resources["GPU"] = workers.gpus_per_worker
    scaling = ScalingConfig(
        num_workers=workers.num_workers,
        use_gpu=workers.gpus_per_worker > 0,
        resources_per_worker=resources,
        label_selector={"ray.io/node-id": run.node_id} if run.node_id else None,
    )
    datasets: dict[str, Any] = {**run.datasets}  # Ray types the values as Dataset | factory, invariantly
    trainer = TorchTrainer(
        train_loop_per_worker=_worker_entry,
        train_loop_config={"plan": worker_plan(run)},
        # The loop's own collectives (step flags, token counts, logged means) are on small CPU
        # tensors, which NCCL alone refuses: gloo takes those, NCCL DeepSpeed's CUDA gradients.
        torch_config=TorchConfig(backend="cpu:gloo,cuda:nccl" if workers.gpus_per_worker else "gloo"),
        scaling_config=scaling,
        datasets=datasets,
        dataset_config=ShardingDataConfig(
            fixed=[p.dataset for p in run.phases if p.dataset not in stream_names], streams=stream_names
        ),
        run_config=RunConfig(
            name=run.name,
            storage_path=run.storage.path,
            storage_filesystem=run.storage.fs,
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            failure_config=FailureConfig(max_failures=cfg.checkpoint.max_failures),
        ),
    )
    try:
        return trainer.fit()
    except TrainingFailedError as err:  # past max_failures: a death says what died and where to go on
        stop = stopped_by(err, latest_checkpoint(run.storage.join(run.name)))
        if stop is None:
            raise
        if stop.what != "node" and run.node_id and _lost(run.node_id, unsure="Unavailable" in stop.cause):
            stop = RunStopped(
                "node", f"node {run.node_id[:12]} the workers were placed on is gone; {stop.cause}", stop.checkpoint
            )
        raise stop from err


NODE_DEATH_WAIT_S = 90.0
"""How long a worker that became unreachable may take to be declared dead with its node: Ray's
GCS declares a node dead after its health checks fail several times in a row (tens of seconds),
while its actors are unreachable at once."""


def _lost(node_id: str, unsure: bool) -> bool:
    """Whether the node is dead; when its workers were only unreachable (`unsure`), Ray is given
    the time it takes to say so."""
    deadline = time.time() + (NODE_DEATH_WAIT_S if unsure else 0)
    while True:
        if not any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
            return True
        if time.time() >= deadline:
            return False
        time.sleep(2)


def train_metrics(result) -> dict:
    """The full metrics of a finished run (histories included), from its final checkpoint."""
    ckpt = result.checkpoint
    with ckpt.filesystem.open_input_stream(f"{ckpt.path}/{METRICS_FILE}") as fh:
        return json.loads(fh.read())


def export_location(result, storage: Location) -> str:
    """Where the final checkpoint's export is, as a user or another node is given it (a path,
    or a URI with the storage's own options)."""
    inside = result.checkpoint.path[len(storage.path) :].strip("/")
    return storage.join(*inside.split("/"), EXPORT_DIR).uri
