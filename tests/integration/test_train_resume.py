"""Checkpoints and resume in the shared trainer: a training worker SIGKILLed mid-run, the worker
group restarted by Ray Train (`max_failures`), the latest checkpoint's DeepSpeed state and data
position loaded, and the run finished at its planned step count with the loss of a run that was
never interrupted (same data order, same seed); past `max_failures` the run stops saying what
died and where its last checkpoint is."""

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import ray.cloudpickle
import ray.data
import torch

from arctic_ray.core.stops import RunStopped
from arctic_ray.core.storage import location
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.samples import training_columns
from arctic_ray.methods.spec_decode.trainer import SpeculatorMethod
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.callbacks import Callback
from arctic_ray.train.checkpoints import POSITION_FILE, RAY_TRAIN_SNAPSHOT
from arctic_ray.train.config import TrainConfig
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import run_trainer, train_metrics

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

KILL_AT = 5
"""Checkpoints come every 2 steps: the restart resumes from step 4 and trains step 5 again."""


class KillOnce(Callback):
    """SIGKILLs rank 1 after step KILL_AT on the first attempt (a marker file remembers it)."""

    def __init__(self, marker: str):
        self.marker = marker

    def post_step(self, trainer, metrics):
        if trainer.rank == 1 and trainer.global_step == KILL_AT and not os.path.exists(self.marker):
            Path(self.marker).write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)


def train(tiny_model, generations, tmp_path: Path, name: str, callbacks: list, max_failures: int = 1):
    columns, _ = training_columns(
        [{"id": str(i), "prompt_token_ids": p, "completion_token_ids": c} for i, (p, c) in enumerate(generations)],
        96,
        2,
        0,
    )
    rows = [{k: columns[k][i] for k in ("input_ids", "completion_start", "length")} for i in range(len(columns["id"]))]
    counts = torch.bincount(torch.tensor([t for _, c in generations for t in c]), minlength=512)
    cfg = TrainConfig(
        workers={"num_workers": 2},
        epochs=2,
        micro_batch_size=4,
        data={"max_length": 96},
        optimizer={"lr": 0.003},
        scheduler={"name": "linear", "warmup_ratio": None, "warmup_steps": 1},
        log_every=1,
        checkpoint={"save_every_n_steps": 2, "max_failures": max_failures},
    )
    result = run_trainer(
        TrainRun(
            trainer="speculator",
            train=cfg,
            method=SpeculatorMethod(
                ModelRef.of(tiny_model),
                Eagle3Config(draft_vocab_size=128, n_predict=2, target_features="hf"),
                0,
                counts,
            ),
            datasets={"train": ray.data.from_items(rows)},
            storage=location(tmp_path / name),
            name=name,
            num_rows=len(rows),
            callbacks=callbacks,
        )
    )
    return train_metrics(result)


def test_a_killed_worker_resumes_from_the_latest_checkpoint(ray_local, tiny_model, tiny_generations, tmp_path):
    generations = tiny_generations[:32]  # 32 rows, 8 a step: 4 steps an epoch, 8 in all
    marker = tmp_path / "killed"
    resumed = train(tiny_model, generations, tmp_path, "killed", [KillOnce(str(marker))])
    assert marker.exists(), "the worker was never killed"
    plain = train(tiny_model, generations, tmp_path, "plain", [])

    assert resumed["steps"] == plain["steps"] == 8
    assert [h["step"] for h in resumed["history"]] == list(range(1, 9))  # history kept across the restart
    # from step 5 on, the resumed run trained on the same rows from the same state
    for a, b in zip(resumed["history"][4:], plain["history"][4:], strict=False):
        assert abs(a["loss"] - b["loss"]) <= 1e-3 * max(1.0, abs(b["loss"])), (a, b)


def test_a_death_past_max_failures_stops_with_what_died_and_the_last_checkpoint(
    ray_local, tiny_model, tiny_generations, tmp_path
):
    marker = tmp_path / "killed"
    with pytest.raises(RunStopped) as stopped:
        train(tiny_model, tiny_generations[:32], tmp_path, "stopped", [KillOnce(str(marker))], max_failures=0)
    stop = stopped.value
    assert marker.exists() and stop.what == "training worker", (stop.what, stop.cause)
    # every 2 steps, killed after step 5: the checkpoint a resume starts from is the latest Ray Train
    # registered in its snapshot (step 4, or step 2 when step 4's registration was still on its way)
    assert stop.checkpoint is not None and stop.checkpoint.step in (2, 4)
    snapshot = json.loads((Path(stop.checkpoint.uri).parent / RAY_TRAIN_SNAPSHOT).read_text())
    assert Path(stop.checkpoint.uri).name == snapshot["latest_checkpoint_result"]["checkpoint_dir_name"]
    assert location(stop.checkpoint.uri).join(POSITION_FILE).exists()
