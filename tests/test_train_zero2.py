"""A short DeepSpeed ZeRO-2 run on two Ray Train workers: the loss goes down, every rank ends
with the same parameters, and the checkpoint holds both ranks' optimizer shards."""

import sys
from pathlib import Path

import numpy as np
import ray.cloudpickle
import ray.data
import torch

from arctic_ray.config.speculator import MLPSpeculatorConfig
from arctic_ray.config.train import TrainConfig
from arctic_ray.models.mlp_speculator import MLPSpeculator
from arctic_ray.train.torch_trainer import run_trainer
from arctic_ray.trainers.base import DEEPSPEED_DIR, EXPORT_DIR
from arctic_ray.trainers.callbacks import Callback


def cyclic_rows(n: int, seq_len: int, vocab: int) -> list[dict]:
    """Each sequence walks a fixed cycle of tokens from a random start: learnable next tokens."""
    rng = np.random.default_rng(0)
    cycle = rng.permutation(np.arange(10, vocab))[:40]
    rows = []
    for _ in range(n):
        start = rng.integers(len(cycle))
        ids = cycle[(start + np.arange(seq_len)) % len(cycle)].astype(np.int64)
        rows.append({"input_ids": ids, "completion_start": 4, "length": seq_len})
    return rows


# Ray workers cannot import this test module: ship its classes by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


class CountEvents(Callback):
    """Counts trainer events in each worker and leaves the counts in the final metrics."""

    def __init__(self):
        self.counts = {"pre-step": 0, "post-loss": 0, "post-step": 0}

    def pre_step(self, trainer, batch):
        assert batch["input_ids"].shape == (trainer.train_cfg.micro_batch_size, trainer.train_cfg.seq_len)
        self.counts["pre-step"] += 1

    def post_loss(self, trainer, loss):
        assert loss.requires_grad
        self.counts["post-loss"] += 1

    def post_step(self, trainer, metrics):
        self.counts["post-step"] += 1

    def post_train(self, trainer, metrics):
        metrics["callback_counts"] = dict(self.counts)


def test_zero2_speculator_training(ray_local, tiny_model, tmp_path):
    cfg = TrainConfig(num_workers=2, epochs=2, micro_batch_size=4, seq_len=32, lr=0.01, warmup_steps=1, log_every=2)
    rows = cyclic_rows(48, cfg.seq_len, vocab=500)
    result = run_trainer(
        "speculator",
        ray.data.from_items(rows),
        len(rows),
        cfg,
        {"model_path": tiny_model, "speculator": MLPSpeculatorConfig(n_predict=2, tie_weights=False).model_dump(), "seed": 0},
        tmp_path,
        name="zero2",
        callbacks=[CountEvents()],
    )
    m = result.metrics
    assert m["steps"] == 2 * (48 // 8)
    assert m["callback_counts"] == {"pre-step": 12, "post-loss": 12, "post-step": 12}
    losses = m["loss_history"]
    assert losses[-1] < 0.7 * losses[0], losses
    assert m["base_cache_hit_rate"] > 0  # the second epoch reuses base hidden states
    digests = m["rank_param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]

    ckpt = Path(result.checkpoint.path)
    shards = sorted(p.name for p in (ckpt / DEEPSPEED_DIR).rglob("*optim_states.pt"))
    assert len(shards) == 2 and any("rank_0" in s for s in shards) and any("rank_1" in s for s in shards)
    spec = MLPSpeculator.load(ckpt / EXPORT_DIR)
    ids = torch.as_tensor(rows[0]["input_ids"])[None]
    assert spec(torch.zeros(1, 32, spec.spec.emb_dim), ids).shape == (2, 1, 29, spec.spec.vocab_size)
