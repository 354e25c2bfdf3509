"""The training loop every trainer shares, run inside each Ray Train worker: a DeepSpeed engine
around the trainable model, batches from `ray.train.get_dataset_shard`, ranks kept in lockstep,
metrics reported to Ray, and a final checkpoint that every rank takes part in.

A trainer subclass names itself (`name = "..."`) and supplies `build_model()` and `loss()`."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from typing import Any, ClassVar, Iterator

import ray.train
import torch
import torch.distributed as dist

from arctic_ray.config.train import TrainConfig
from arctic_ray.registry import Registered
from arctic_ray.train.deepspeed_config import deepspeed_config
from arctic_ray.trainers.callbacks import CallbackList

EXPORT_DIR = "export"
"""Inside a reported checkpoint: the trained model in its loadable format (rank 0 writes it)."""
DEEPSPEED_DIR = "deepspeed"
"""Inside a reported checkpoint: DeepSpeed's sharded state, to resume from."""


class Trainer(Registered):
    kind: ClassVar[str] = "trainer"

    def __init__(self, loop_config: dict[str, Any], callbacks: CallbackList | None = None):
        self.loop_config = loop_config
        self.train_cfg = TrainConfig.model_validate(loop_config["train"])
        self.steps_per_epoch: int = loop_config["steps_per_epoch"]
        self.total_steps = self.steps_per_epoch * self.train_cfg.epochs
        if self.train_cfg.max_steps:
            self.total_steps = min(self.total_steps, self.train_cfg.max_steps)
        ctx = ray.train.get_context()
        self.rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        self.callbacks = callbacks or CallbackList()
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.use_gpu = torch.cuda.is_available()
        self.device = torch.device("cuda", torch.cuda.current_device()) if self.use_gpu else torch.device("cpu")

    # -- what a subclass provides ------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss to minimise and extra scalar tensors to log, for one micro-batch."""
        raise NotImplementedError

    def export(self, path: str) -> None:
        """Write the trained model in its loadable format (rank 0 only)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Trainer-specific values for the final metrics."""
        return {}

    # -- the shared loop ---------------------------------------------------------------------
    def setup(self) -> None:
        import deepspeed

        model = self.build_model()
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=model,
            model_parameters=trainable,
            config=deepspeed_config(self.train_cfg, self.total_steps, self.use_gpu),
            dist_init_required=False,
        )

    def micro_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """Exactly steps_per_epoch * grad_accum micro-batches per epoch on every rank, so no rank
        waits in a collective for one that ran out of data."""
        shard = ray.train.get_dataset_shard("train")
        per_epoch = self.steps_per_epoch * self.train_cfg.gradient_accumulation_steps
        for _epoch in range(self.train_cfg.epochs):
            batches = shard.iter_torch_batches(
                batch_size=self.train_cfg.micro_batch_size, drop_last=True, device=self.device
            )
            for i, batch in enumerate(batches):
                if i >= per_epoch:
                    break
                yield batch

    def fit(self) -> None:
        self.setup()
        gas = self.train_cfg.gradient_accumulation_steps
        started, window_tokens, window_start = time.time(), 0, time.time()
        for micro_step, batch in enumerate(self.micro_batches()):
            if self.global_step >= self.total_steps:
                break
            self.callbacks.fire("pre-step", self, batch=batch)
            loss, extra = self.loss(batch)
            self.callbacks.fire("post-loss", self, loss=loss)
            self.engine.backward(loss)
            self.engine.step()
            window_tokens += int(batch["length"].sum()) if "length" in batch else 0
            if (micro_step + 1) % gas:
                continue
            self.global_step += 1
            metrics = {"step": self.global_step, "lr": self.scheduler.get_last_lr()[0], **self.mean_over_ranks(loss, extra)}
            self.history.append(metrics)
            self.callbacks.fire("post-step", self, metrics=metrics)
            if self.global_step % self.train_cfg.log_every == 0 or self.global_step == self.total_steps:
                elapsed = time.time() - window_start
                metrics["tokens_per_s"] = window_tokens * self.world_size / max(elapsed, 1e-9)
                window_tokens, window_start = 0, time.time()
                if self.rank == 0:
                    print(
                        f"[train] step {self.global_step}/{self.total_steps} loss {metrics['loss']:.4f} "
                        f"lr {metrics['lr']:.2e} tok/s {metrics['tokens_per_s']:.0f}",
                        flush=True,
                    )
                ray.train.report(metrics)
        self.finish(time.time() - started)

    def mean_over_ranks(self, loss: torch.Tensor, extra: dict[str, torch.Tensor]) -> dict[str, float]:
        """Loss and extras averaged over all ranks (one all-reduce), so logs show the global batch."""
        names = ["loss", *extra]
        values = torch.stack([loss.detach().float(), *(v.detach().float() for v in extra.values())])
        dist.all_reduce(values)
        return dict(zip(names, (values / self.world_size).tolist()))

    def param_digest(self) -> str:
        h = hashlib.sha256()
        for name, p in sorted(self.engine.module.named_parameters()):
            h.update(name.encode())
            h.update(p.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()

    def finish(self, train_seconds: float) -> None:
        digests: list[str] = [""] * self.world_size
        dist.all_gather_object(digests, self.param_digest())
        metrics = {
            "steps": self.global_step,
            "train_seconds": train_seconds,
            "final_loss": self.history[-1]["loss"] if self.history else float("nan"),
            "loss_history": [h["loss"] for h in self.history],
            "rank_param_digests": digests,
            **self.summary(),
        }
        self.callbacks.fire("post-train", self, metrics=metrics)
        with tempfile.TemporaryDirectory() as tmp:
            # A collective: every rank writes its share of the ZeRO state.
            self.engine.save_checkpoint(os.path.join(tmp, DEEPSPEED_DIR), tag=f"step{self.global_step}")
            if self.rank == 0:
                self.export(os.path.join(tmp, EXPORT_DIR))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
