"""The training loop every trainer shares, run inside each Ray Train worker. It knows no method:
a DeepSpeed engine around the trainable model, phases of data from `get_dataset_shard` (a
`collate` hook turns each batch into model inputs), ranks kept in lockstep even when the data is
a stream of unknown length, evaluation during training, metrics reported to Ray, checkpoints
every rank takes part in (every `checkpoint.save_every_n_steps` and at the end), and resume: after a
restart (`checkpoint.max_failures`) the worker group loads the latest checkpoint's DeepSpeed state and data
position and goes on to the planned step count.

A trainer subclass names itself (`name = "..."`) and supplies `build_model()` and `loss()`;
optionally `collate()`, `tokens_in()`, `eval_batch()`/`eval_metrics()`, `export()`, `summary()`."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

import ray.train
import torch
import torch.distributed as dist
from ray.data import DataIterator
from ray.data.collate_fn import NumpyBatchCollateFn

from arctic_ray.core.registry import Registered, home
from arctic_ray.train import checkpoints, sequence_parallel
from arctic_ray.train.callbacks import CallbackList, wrap_methods
from arctic_ray.train.checkpoints import EXPORT_DIR, METRICS_FILE
from arctic_ray.train.deepspeed_config import deepspeed_config, without_shm_comm_build
from arctic_ray.train.run import WorkerPlan

home("trainer", "arctic_ray.methods")  # each method's folder defines its trainer


def _eta(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


class Ratio(NamedTuple):
    """A logged metric that is a share of the global batch: `num / den` with both summed over the
    step's micro-batches and the ranks first (rewards/accuracies weighted by pairs, not averaged
    over micro-batch means)."""

    num: torch.Tensor
    den: torch.Tensor


class StepMetrics:
    """A step's logged extras as they are added up over its micro-batches."""

    def __init__(self, micro_batches: int):
        self.micro_batches = micro_batches
        self.means: dict[str, torch.Tensor] = {}
        self.ratios: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def add(self, extra: Mapping[str, torch.Tensor | Ratio]) -> None:
        for k, v in extra.items():
            if isinstance(v, Ratio):
                num, den = self.ratios.get(k, (0.0, 0.0))
                self.ratios[k] = (num + v.num.detach().double(), den + v.den.detach().double())
            else:
                self.means[k] = self.means.get(k, 0.0) + v.detach() / self.micro_batches


class Trainer(Registered):
    kind: ClassVar[str] = "trainer"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        wrap_methods(cls)  # callbacks survive a subclass's overrides

    def __init__(self, plan: WorkerPlan):
        self.plan = plan
        self.train_cfg = plan.train
        self.method = plan.method
        self.total_steps = plan.total_steps
        ctx = ray.train.get_context()
        self.rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        self.callbacks = CallbackList(plan.callbacks)
        self.global_step = 0
        self.resumed_from = 0
        self.rows_consumed = 0
        self.history: list[dict[str, float]] = []
        self.eval_history: list[dict[str, Any]] = []
        self.data_wait_s = 0.0
        self.sp = sequence_parallel.NO_SEQUENCE_PARALLEL
        self.use_gpu = torch.cuda.is_available()
        self.device = torch.device("cuda", torch.cuda.current_device()) if self.use_gpu else torch.device("cpu")

    # -- what a subclass provides ------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | Ratio]]:
        """Loss to minimise and extra scalars to log, for one micro-batch: a tensor is logged as
        its mean over the step's micro-batches and the ranks; a `Ratio` as its sums over them,
        divided once (a share of pairs or tokens, which a mean of micro-batch means would skew)."""
        raise NotImplementedError

    def collate(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Turn a batch as read from the dataset into the model's inputs."""
        return batch

    def sequence_model(self) -> str:
        """The local path of the causal LM whose sequences this trainer splits under sequence
        parallelism (resolved on this node); a trainer over no token sequences refuses it."""
        raise ValueError(f"sequence_parallel_size: the {self.name} trainer does not split sequences")

    float_columns: tuple[str, ...] = ()
    """Per-token float columns of a batch (DPO's reference log-probs), shifted with the targets
    when a sequence is split."""

    def batch_collate_fn(self) -> NumpyBatchCollateFn | None:
        """A Ray Data collate_fn (`NumpyBatchCollateFn`) for rows that are not fixed-size arrays
        (e.g. ragged packed sequences); None: Ray turns the columns into tensors itself."""
        return None

    def tokens_in(self, batch: dict[str, torch.Tensor]) -> int | torch.Tensor:
        """Tokens a micro-batch trains on, for throughput: a count, or a 0-d tensor left on the
        device (read once per log line, not once per micro-batch)."""
        return 0

    def eval_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Sums over one eval batch (tensors); added up over batches and ranks."""
        return {}

    def eval_metrics(self, sums: dict[str, torch.Tensor]) -> dict[str, Any]:
        return {}

    def export(self, path: str) -> None:
        """Write the trained model in its loadable format (rank 0 only)."""

    def summary(self) -> dict[str, Any]:
        """Trainer-specific values for the final metrics."""
        return {}

    # -- the shared loop ---------------------------------------------------------------------
    def setup(self) -> None:
        import deepspeed

        without_shm_comm_build()
        cfg = self.train_cfg
        if cfg.sequence_parallel_size > 1:  # before the model exists: it registers the attention
            self.sp = sequence_parallel.start(
                cfg.sequence_parallel_size, self.attn_implementation(), cfg.micro_batch_size, self.sequence_model()
            )
        model = self.build_model()
        if cfg.gradient_checkpointing:
            enable = getattr(model, "gradient_checkpointing_enable", None)
            if enable is None:
                raise ValueError(
                    f"gradient_checkpointing: the {self.name} trainer's model cannot checkpoint its layers"
                )
            enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if cfg.tiled_mlp_compute:
            sequence_parallel.tile_mlps(model)
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=model,
            model_parameters=trainable,  # pyright: ignore[reportArgumentType]  # DeepSpeed takes parameters, typed as a Module
            config=deepspeed_config(cfg, self.total_steps, self.use_gpu, self.sp.size),
            mpu=self.sp.mpu,
            dist_init_required=False,
        )
        self._resume()

    def attn_implementation(self) -> str:
        """The attention implementation the trainer's model is built with."""
        return "sdpa"

    def _resume(self) -> None:
        """After a restart: the latest checkpoint's model, optimizer and scheduler state, and where
        the data stood (the micro-batches already trained are replayed unread by the model)."""
        position = checkpoints.load_latest(self.engine)
        if position is None:
            return
        self.global_step = self.resumed_from = position["step"]
        self.history, self.eval_history = position["history"], position["eval_history"]
        if self.rank == 0:
            print(f"[train] resumed from the checkpoint of step {self.global_step}", flush=True)

    def _all_ranks_have(self, has_batch: bool) -> bool:
        flag = torch.tensor([1 if has_batch else 0])
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def _batches(self, dataset: str, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        mbs = self.train_cfg.micro_batch_size
        # a rank reads the same rows every epoch, in another order; a stream is read as it comes
        # (a shuffle buffer would hold its first batch back until the buffer fills)
        stream = dataset in self.plan.streams
        return iter(
            self._shard(dataset).iter_torch_batches(
                batch_size=mbs,
                drop_last=True,
                device=self.device,
                collate_fn=self.batch_collate_fn(),
                local_shuffle_buffer_size=None if stream else 8 * mbs,
                local_shuffle_seed=None if stream else self.plan.seed + 1000 * epoch + self.rank,
            )
        )

    @staticmethod
    def _shard(dataset: str) -> DataIterator:
        shard = ray.train.get_dataset_shard(dataset)
        if shard is None:
            raise ValueError(f"no dataset {dataset!r} was given to this training run")
        return shard

    def micro_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """Micro-batches phase by phase, the same number on every rank: a rank that runs out
        ends the pass for all (one small all-reduce per micro-batch), so none waits forever in a
        collective. A dataset of known size is read again (epochs) until its phase is done. After
        a resume, the micro-batches trained before the restart are read again in the same order
        and skipped, so training goes on from the same rows (a stream cannot be replayed: it goes
        on from where the producer is)."""
        gas = self.train_cfg.gradient_accumulation_steps
        skip = self.resumed_from * gas
        micro = 0  # micro-batches of the run so far, replayed ones included
        for phase in self.plan.phases:
            end = gas * (self.total_steps if phase.steps is None else min(micro // gas + phase.steps, self.total_steps))
            if phase.dataset in self.plan.streams and micro < skip:
                micro = min(skip, end)
            epoch = 0
            while micro < end:
                batches, got_any = self._batches(phase.dataset, epoch), False
                epoch += 1
                while micro < end:
                    start = time.time()
                    batch = next(batches, None)
                    self.data_wait_s += time.time() - start
                    if batch is not None and self.plan.feeder is not None:
                        # acknowledged on arrival, before the lockstep: a rank that holds rows
                        # while it waits for the others must not keep the producer from making
                        # the rows they wait for
                        self.plan.feeder.consumed(self.train_cfg.micro_batch_size)
                    everyone_has_one = self._all_ranks_have(batch is not None)
                    if batch is None or not everyone_has_one:
                        break
                    got_any = True
                    micro += 1
                    self.rows_consumed = micro * self.train_cfg.micro_batch_size
                    if micro <= skip:
                        continue
                    yield batch
                del batches  # closes the shard iterator
                if not got_any:
                    break

    def steps(self) -> Iterator[list[dict[str, torch.Tensor]]]:
        """The micro-batches of each optimizer step, collated (a partial last step is dropped on
        every rank alike)."""
        gas, group = self.train_cfg.gradient_accumulation_steps, []
        for raw in self.micro_batches():
            batch = self.collate(raw)
            # under sequence parallelism the group computes its ranks' micro-batches one by one
            shards = sequence_parallel.group_shards(self.sp, batch, self.float_columns) if self.sp.enabled else [batch]
            group += shards
            if len(group) == gas * self.sp.size:
                yield group
                group = []

    def begin_step(self, batches: list[dict[str, torch.Tensor]]) -> None:
        """Called with all micro-batches of a step before the first forward (e.g. to count the
        global batch's target tokens)."""

    def fit(self) -> None:
        self.setup()
        if not self.resumed_from:
            self.evaluate()  # the starting point, so every gain is measured
        gas = self.train_cfg.gradient_accumulation_steps
        started, window_tokens, window_start = time.time(), 0, time.time()
        for batches in self.steps():
            self.begin_step(batches)
            step_loss, step_extra = torch.zeros((), device=self.device), StepMetrics(gas)
            for batch in batches:
                self.callbacks.fire("pre-step", self, batch=batch)
                with self._activation_offload():
                    loss, extra = self.loss(batch)
                self.engine.backward(loss)
                self.engine.step()
                window_tokens = window_tokens + self.tokens_in(batch)
                # logged: the mean over the step's micro-batches (and, below, over ranks)
                step_loss = step_loss + loss.detach() / gas
                step_extra.add(extra)
            loss, extra = step_loss, step_extra
            self.global_step += 1
            metrics = {
                "step": self.global_step,
                "time": time.time(),
                "lr": self.scheduler.get_last_lr()[0],
                **self.mean_over_ranks(loss, extra),
            }
            self.history.append(metrics)
            self.callbacks.fire("post-step", self, metrics=metrics)
            if self.global_step % self.train_cfg.log_every == 0 or self.global_step == self.total_steps:
                elapsed = time.time() - window_start
                metrics["tokens_per_s"] = float(window_tokens) * self.world_size / max(elapsed, 1e-9)
                window_tokens, window_start = 0, time.time()
                self._log(metrics, started)
                ray.train.report(metrics)
            if self.train_cfg.eval_every and self.global_step % self.train_cfg.eval_every == 0:
                self.evaluate()
            every = self.train_cfg.checkpoint.save_every_n_steps
            if every and self.global_step % every == 0 and self.global_step < self.total_steps:
                self.save_checkpoint({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        if not self.eval_history or self.eval_history[-1]["step"] != self.global_step:
            self.evaluate()
        self.finish(time.time() - started)

    def _activation_offload(self):
        """Where asked, the tensors the forward keeps for the backward (with gradient checkpointing:
        the layers' inputs) wait in CPU memory."""
        if self.train_cfg.activation_checkpoint_cpu_offload:
            return torch.autograd.graph.save_on_cpu(pin_memory=self.use_gpu)
        return contextlib.nullcontext()

    def _log(self, metrics: dict, started: float) -> None:
        if self.rank:
            return
        per_step = (time.time() - started) / self.global_step
        eta = _eta(per_step * (self.total_steps - self.global_step))
        print(
            f"[train] step {self.global_step}/{self.total_steps} loss {metrics['loss']:.4f} "
            f"lr {metrics['lr']:.2e} tok/s {metrics['tokens_per_s']:.0f} {per_step:.2f}s/step eta {eta}",
            flush=True,
        )

    def evaluate(self) -> None:
        """The trainer's eval over the eval set: each rank takes every world_size-th batch, the
        sums are added over ranks."""
        if not self.plan.has_eval:
            return
        sums: dict[str, torch.Tensor] = {}
        shard = self._shard("eval")
        with torch.no_grad():
            batches = shard.iter_torch_batches(
                batch_size=self.train_cfg.micro_batch_size, device=self.device, collate_fn=self.batch_collate_fn()
            )
            # a sequence-parallel group takes one batch together: batches are dealt to groups
            groups, group = self.world_size // self.sp.size, self.rank // self.sp.size
            for i, batch in enumerate(batches):
                if i % groups != group:
                    continue
                batch = self.collate(batch)
                if self.sp.enabled:
                    whole = _full_rows(batch, self.train_cfg.micro_batch_size)
                    batch = sequence_parallel.shard(self.sp, whole, self.float_columns)
                for k, v in self.eval_batch(batch).items():
                    sums[k] = sums.get(k, 0) + v.detach().double().cpu()
        names = sorted(sums)
        # every rank must contribute tensors of the same shapes: agree on them from rank 0's view
        shapes: list[Any] = [None] * self.world_size
        dist.all_gather_object(shapes, {k: tuple(sums[k].shape) for k in names})
        template = next((s for s in shapes if s), {})
        total = {k: sums.get(k, torch.zeros(shape, dtype=torch.float64)) for k, shape in template.items()}
        for k in sorted(total):
            dist.all_reduce(total[k])
        result = {"step": self.global_step, **self.eval_metrics(total)}
        self.eval_history.append(result)
        if self.rank == 0:
            shown = {k: v for k, v in result.items() if isinstance(v, (int, float))}
            print(f"[eval] step {self.global_step}: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()), flush=True)

    def mean_over_ranks(self, loss: torch.Tensor, extra: StepMetrics) -> dict[str, float]:
        """Loss and extras over all ranks (one all-reduce), so logs show the global batch: means
        averaged, ratios' sums added and then divided."""
        names = ["loss", *extra.means, *(f"{k}/num" for k in extra.ratios), *(f"{k}/den" for k in extra.ratios)]
        parts = [
            loss,
            *extra.means.values(),
            *(n for n, _ in extra.ratios.values()),
            *(d for _, d in extra.ratios.values()),
        ]
        values = torch.stack([v.detach().double().reshape(()).cpu() for v in parts])
        dist.all_reduce(values)
        reduced = dict(zip(names, values.tolist(), strict=True))
        out = {k: reduced[k] / self.world_size for k in ["loss", *extra.means]}
        out.update({k: reduced[f"{k}/num"] / max(reduced[f"{k}/den"], 1e-12) for k in extra.ratios})
        return out

    def finish(self, train_seconds: float) -> None:
        waits = torch.tensor([self.data_wait_s], dtype=torch.float64)
        dist.all_reduce(waits)
        metrics = {
            "steps": self.global_step,
            "resumed_from_step": self.resumed_from,
            "train_seconds": train_seconds,
            "data_wait_s": float(waits.item()) / self.world_size,
            "final_loss": self.history[-1]["loss"] if self.history else float("nan"),
            "history": self.history,
            "eval_history": self.eval_history,
            **self.summary(),
        }
        self.callbacks.fire("post-train", self, metrics=metrics)

        def final_files(tmp: str) -> None:
            self.export(os.path.join(tmp, EXPORT_DIR))
            with open(os.path.join(tmp, METRICS_FILE), "w") as fh:
                json.dump(metrics, fh, default=float)

        self.save_checkpoint({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, final_files)

    def save_checkpoint(self, scalars: dict[str, float], rank0_files=None) -> None:
        position = {
            "step": self.global_step,
            "rows_consumed_per_rank": self.rows_consumed,
            "history": self.history,
            "eval_history": self.eval_history,
        }
        checkpoints.save(self.engine, self.rank, self.global_step, position, scalars, rank0_files)


wrap_methods(Trainer)


def _full_rows(batch: dict[str, torch.Tensor], rows: int) -> dict[str, torch.Tensor]:
    """A short last eval batch padded with empty rows (Ulysses' attention is built for a fixed
    micro-batch size; an empty row holds only padding and adds nothing)."""
    missing = rows - batch["input_ids"].shape[0]
    if missing <= 0:
        return batch
    return {
        k: torch.cat([v, torch.full((missing, *v.shape[1:]), -100 if k == "labels" else 0, dtype=v.dtype)])
        for k, v in batch.items()
    }
