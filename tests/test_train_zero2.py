"""A short DeepSpeed ZeRO-2 run on two Ray Train workers with the shared trainer: the loss goes
down, every rank ends with the same parameters, callbacks fire in the workers, the eval runs
before and after training, and the checkpoint holds both ranks' optimizer shards."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import ray.cloudpickle
import ray.data
import torch
import torch.distributed as dist

from arctic_ray.config.train import TrainConfig
from arctic_ray.speculators.eagle3.export import load_eagle3
from arctic_ray.speculators.eagle3.config import Eagle3Config
from arctic_ray.speculators.identity import base_identity
from arctic_ray.speculators.trainer import SpeculatorMethod
from arctic_ray.train.callbacks import Callback
from arctic_ray.train.spec import TrainRun
from arctic_ray.train.torch_trainer import run_trainer
from arctic_ray.train.trainer import DEEPSPEED_DIR, EXPORT_DIR


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
    """Counts trainer events in each worker; at the end gathers every rank's parameter digest."""

    def __init__(self):
        self.counts = {"pre-step": 0, "post-loss": 0, "post-step": 0}

    def pre_step(self, trainer, batch):
        assert batch["input_ids"].shape == (trainer.train_cfg.micro_batch_size, 32)
        self.counts["pre-step"] += 1

    def post_loss(self, trainer, loss):
        assert loss.requires_grad
        self.counts["post-loss"] += 1

    def post_step(self, trainer, metrics):
        self.counts["post-step"] += 1

    def post_train(self, trainer, metrics):
        h = hashlib.sha256()
        for name, p in sorted(trainer.engine.module.named_parameters()):
            h.update(name.encode() + p.detach().float().cpu().numpy().tobytes())
        digests = [None] * trainer.world_size
        dist.all_gather_object(digests, h.hexdigest())
        metrics["callback_counts"] = dict(self.counts)
        metrics["rank_param_digests"] = digests


def test_zero2_eagle3_training(ray_local, tiny_model, tmp_path):
    cfg = TrainConfig(num_workers=2, epochs=2, micro_batch_size=4, seq_len=32, lr=0.01, warmup_steps=1, log_every=2)
    rows = cyclic_rows(48, cfg.seq_len, vocab=500)
    spec = Eagle3Config(draft_vocab_size=128, n_predict=2)
    counts = torch.bincount(torch.tensor(np.concatenate([r["input_ids"] for r in rows])), minlength=512)
    result = run_trainer(
        TrainRun(
            trainer="speculator",
            train=cfg,
            method=SpeculatorMethod(tiny_model, spec, 0, base_identity(tiny_model, "tiny"), counts),
            datasets={"train": ray.data.from_items(rows), "eval": ray.data.from_items(rows[:8])},
            storage_dir=tmp_path,
            num_rows=len(rows),
            callbacks=[CountEvents()],
        )
    )
    m = result.metrics
    assert m["steps"] == 2 * (48 // 8)
    assert m["callback_counts"] == {"pre-step": 12, "post-loss": 12, "post-step": 12}
    losses = [h["loss"] for h in m["history"]]
    assert losses[-1] < 0.9 * losses[0], losses
    assert m["base_cache_hit_rate"] > 0  # the second epoch reuses base hidden states
    assert len(set(m["rank_param_digests"])) == 1  # data parallelism kept every rank identical
    first, last = m["eval_history"][0], m["eval_history"][-1]
    assert (first["step"], last["step"]) == (0, 12) and last["tau_sim"] > first["tau_sim"]

    ckpt = Path(result.checkpoint.path)
    shards = sorted(p.name for p in (ckpt / DEEPSPEED_DIR).rglob("*optim_states.pt"))
    assert len(shards) == 2 and any("rank_0" in s for s in shards) and any("rank_1" in s for s in shards)
    drafter = load_eagle3(ckpt / EXPORT_DIR)
    assert drafter.config.draft_vocab_size == 128 and drafter.config.ttt_steps == 2
