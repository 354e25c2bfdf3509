"""Sequence parallelism on Ray Train: SFT with two workers in one SP group (tiled MLP and logits,
gradient checkpointing with its inputs offloaded) is checkpointed, loses a worker (SIGKILL) after
step 5, is resumed from its latest checkpoint, evaluates before, during and after, and follows
step by step the losses of plain data-parallel training on the same rows (each step's global
batch is the same rows either way)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import ray.cloudpickle
import ray.data
from transformers import AutoTokenizer

from arctic_ray.core.storage import location
from arctic_ray.data.chat import tokenize_chat
from arctic_ray.data.packing import pack
from arctic_ray.methods.sft.recipe import SFTModelConfig, SFTRecipe
from arctic_ray.methods.sft.trainer import SFTMethod
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.callbacks import Callback
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import run_trainer, train_metrics
from tests.support.files import example_prompts

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

KILL_AT = 5
"""Checkpoints come every 2 steps; the restart resumes from the latest one Ray Train registered
(registration is asynchronous: step 4, or step 2 when the kill came first) and trains on from it."""


class KillOnce(Callback):
    def __init__(self, marker: str):
        self.marker = marker

    def post_step(self, trainer, metrics):
        if trainer.rank == 1 and trainer.global_step == KILL_AT and not os.path.exists(self.marker):
            Path(self.marker).write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def bins(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    examples = []
    for row in example_prompts(48):
        chat = [
            *row["messages"],
            {"role": "assistant", "content": "A short answer about " + row["messages"][0]["content"]},
        ]
        ex = tokenize_chat(tok, chat, max_length=128)
        examples.append({"input_ids": ex.input_ids, "labels": ex.labels})
    return pack(examples, capacity=256, multiple_of=4)


def train(tiny_model, bins, tmp_path: Path, name: str, sp: int, callbacks: list) -> dict:
    extra = (
        {
            "tiled_mlp_compute": True,
            "logits_tile_tokens": 64,
            "gradient_checkpointing": True,
            "activation_checkpoint_cpu_offload": True,
        }
        if sp > 1
        else {}
    )
    recipe = SFTRecipe(
        workers={"num_workers": 2},
        sequence_parallel_size=sp,
        micro_batch_size=2,
        epochs=3,
        max_steps=6,
        optimizer={"lr": 3e-3},
        scheduler={"name": "constant", "warmup_ratio": None, "warmup_steps": 1},
        log_every=1,
        eval_every=3,
        checkpoint={"save_every_n_steps": 2, "max_failures": 1},
        **extra,
    )
    result = run_trainer(
        TrainRun(
            trainer="sft",
            train=recipe,
            method=SFTMethod(ModelRef.of(tiny_model), SFTModelConfig(attn_implementation="sdpa"), 0),
            datasets={"train": ray.data.from_items(bins[4:]), "eval": ray.data.from_items(bins[:4])},
            storage=location(tmp_path / name),
            name=name,
            num_rows=len(bins) - 4,
            callbacks=callbacks,
        )
    )
    return train_metrics(result)


def test_sp2_resumes_evaluates_and_follows_data_parallel_training(ray_local, tiny_model, bins, tmp_path):
    plain = train(tiny_model, bins, tmp_path, "dp", 1, [])
    split = train(tiny_model, bins, tmp_path, "sp", 2, [KillOnce(str(tmp_path / "killed"))])
    assert (tmp_path / "killed").exists()  # a worker did die mid-run
    assert [h["step"] for h in split["history"]] == list(range(1, 7))  # resumed: every step once
    assert [e["step"] for e in split["eval_history"]] == [0, 3, 6]
    for a, b in zip(plain["history"], split["history"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=2e-3), (plain["history"], split["history"])
    for a, b in zip(plain["eval_history"], split["eval_history"], strict=True):
        assert b["eval_tokens"] == a["eval_tokens"] and b["eval_loss"] == pytest.approx(a["eval_loss"], rel=2e-3)
    assert split["history"][-1]["loss"] < split["history"][0]["loss"]
