"""What a reported checkpoint holds and how the shared loop writes and reads it: DeepSpeed's
sharded state (every rank's share), the data position (steps done, rows each rank consumed, the
histories so far), and in the final one the export and the full metrics."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

import ray.train

from arctic_ray.core.stops import Checkpoint
from arctic_ray.core.storage import Location

EXPORT_DIR = "export"
"""Inside a reported checkpoint: the trained model in its loadable format (rank 0 writes it)."""
DEEPSPEED_DIR = "deepspeed"
"""Inside a reported checkpoint: DeepSpeed's sharded state, to resume from."""
POSITION_FILE = "position.json"
"""Inside a reported checkpoint: steps done, rows each rank consumed, the histories so far."""
METRICS_FILE = "train_metrics.json"
"""Inside the final checkpoint: the run's metrics with their histories (too long for a report)."""


def save(
    engine,
    rank: int,
    step: int,
    position: dict,
    scalars: dict[str, float],
    rank0_files: Callable[[str], None] | None = None,
) -> None:
    """A collective: every rank writes its share of the ZeRO state; rank 0 adds the data
    `position` (and `rank0_files(dir)`); every rank reports the same checkpoint to Ray Train."""
    with tempfile.TemporaryDirectory() as tmp:
        engine.save_checkpoint(os.path.join(tmp, DEEPSPEED_DIR), tag=f"step{step}")
        if rank == 0:
            with open(os.path.join(tmp, POSITION_FILE), "w") as fh:
                json.dump(position, fh, default=float)
            if rank0_files is not None:
                rank0_files(tmp)
        ray.train.report(scalars, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def load_latest(engine) -> dict | None:
    """After a restart: the latest checkpoint's DeepSpeed state loaded into `engine`, and its data
    position; None on a first start."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as path:
        engine.load_checkpoint(os.path.join(path, DEEPSPEED_DIR))
        with open(os.path.join(path, POSITION_FILE)) as fh:
            return json.load(fh)


RAY_TRAIN_SNAPSHOT = "checkpoint_manager_snapshot.json"
"""Ray Train's record of the checkpoints it registered, in a run's storage: a checkpoint directory
it does not list may be half uploaded, and a resume will not start from it."""


def latest_checkpoint(run_storage: Location) -> Checkpoint | None:
    """The checkpoint a resume starts from: the latest one Ray Train registered (its snapshot in
    the run's storage `storage/name`), with the step of its data position; None when none was."""
    snapshot = run_storage.join(RAY_TRAIN_SNAPSHOT)
    if not snapshot.exists():
        return None
    latest = json.loads(snapshot.read_text()).get("latest_checkpoint_result")
    if not latest:
        return None
    checkpoint = run_storage.join(latest["checkpoint_dir_name"])
    position = checkpoint.join(POSITION_FILE)
    if not position.exists():
        return None
    return Checkpoint(int(json.loads(position.read_text())["step"]), checkpoint.uri)
