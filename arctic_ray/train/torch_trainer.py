"""Runs a registered trainer on a Ray Train TorchTrainer: one worker per data-parallel rank, the
training Dataset split across them with `get_dataset_shard("train")`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ray.data
from ray.train import CheckpointConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

from arctic_ray.config.train import TrainConfig
from arctic_ray.registry import lookup


def _worker_entry(loop_config: dict[str, Any]) -> None:
    import arctic_ray.trainers  # noqa: F401  (registers the trainers in this worker process)

    from arctic_ray.trainers.callbacks import CallbackList

    trainer_cls = lookup("trainer", loop_config["trainer"])
    trainer_cls(loop_config, CallbackList(loop_config.get("callbacks"))).fit()


def steps_per_epoch(num_rows: int, cfg: TrainConfig) -> int:
    per_step = cfg.num_workers * cfg.micro_batch_size * cfg.gradient_accumulation_steps
    steps = num_rows // per_step
    if steps == 0:
        raise ValueError(
            f"{num_rows} training rows are fewer than one optimizer step needs "
            f"({cfg.num_workers} workers x {cfg.micro_batch_size} x {cfg.gradient_accumulation_steps}); "
            "lower train.micro_batch_size or add data"
        )
    return steps


def run_trainer(
    trainer: str,
    train_ds: ray.data.Dataset,
    num_rows: int,
    cfg: TrainConfig,
    loop_config: dict[str, Any],
    storage_dir: Path,
    name: str,
    callbacks: list | None = None,
):
    """`callbacks` (picklable `Callback`s) run inside every worker, around the trainer's steps."""
    # Ray Train V2 gives a worker group 30 s to start by default; a busy laptop can need more.
    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", str(cfg.start_timeout_s))
    # Workers' stdout already reaches the driver; Train's print patch would log every line twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    resources = {"CPU": cfg.cpus_per_worker}
    if cfg.gpus_per_worker:
        resources["GPU"] = cfg.gpus_per_worker
    torch_trainer = TorchTrainer(
        train_loop_per_worker=_worker_entry,
        train_loop_config={
            **loop_config,
            "trainer": trainer,
            "train": cfg.model_dump(),
            "steps_per_epoch": steps_per_epoch(num_rows, cfg),
            "callbacks": list(callbacks or []),
        },
        torch_config=TorchConfig(backend="nccl" if cfg.gpus_per_worker else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=cfg.num_workers, use_gpu=cfg.gpus_per_worker > 0, resources_per_worker=resources
        ),
        datasets={"train": train_ds},
        run_config=RunConfig(
            name=name,
            storage_path=str(storage_dir.resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    return torch_trainer.fit()
