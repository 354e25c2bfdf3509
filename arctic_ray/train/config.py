"""The one recipe dialect of every trainer, ArcticTraining's: `type`, `model.name_or_path`,
`data` (`sources`, `max_length`), `micro_batch_size`, `gradient_accumulation_steps`, `epochs`,
`optimizer`, `scheduler`, `deepspeed`, `checkpoint`, plus Ray's `workers`. A method's recipe
subclasses `TrainConfig` and adds its own blocks (`speculator:`, `teacher:`); the shared loop
reads the recipe itself, so no field is copied from one schema to another."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.recipe import Recipe
from arctic_ray.core.registry import UnknownBlockError, home, lookup

home("optimizer", "arctic_ray.train.optim_blocks")
home("scheduler", "arctic_ray.train.optim_blocks")


def _registered_as(kind: str) -> AfterValidator:
    def check(name: str) -> str:
        try:
            lookup(kind, name)
        except UnknownBlockError as err:
            raise ValueError(str(err)) from None
        return name

    return AfterValidator(check)


OptimizerName = Annotated[str, _registered_as("optimizer")]
"""A registered optimizer block (`arctic-ray list`)."""
ScheduleName = Annotated[str, _registered_as("scheduler")]
"""A registered learning-rate schedule block (built in: `linear`, `cosine`, `constant`)."""


class ModelConfig(StrictConfig):
    name_or_path: str = "tiny"
    """A built-in name (`arctic-ray list`), a Hugging Face name or a local path."""


class TrainDataConfig(StrictConfig):
    """A method's `data:` block extends this with its `sources`."""

    max_length: int = Field(default=512, ge=8)
    """Tokens per training sequence: longer ones are cut (or dropped), shorter ones padded or packed."""


class OptimizerConfig(StrictConfig):
    name: OptimizerName = "adamw"
    """A registered optimizer (`arctic-ray list`)."""

    lr: float = Field(default=1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(default=0.0, ge=0)


class SchedulerConfig(StrictConfig):
    name: ScheduleName = "cosine"
    """A registered schedule after linear warmup: `cosine` or `linear` decay to 0, or `constant`."""

    warmup_ratio: float | None = Field(default=0.05, ge=0, lt=1)
    """Warmup as a share of the run's steps; None: `warmup_steps`."""

    warmup_steps: int = Field(default=0, ge=0)
    """Warmup in steps, when `warmup_ratio` is None."""

    def warmup(self, total_steps: int) -> int:
        """Warmup steps of a run: at least 1 (DeepSpeed's schedules refuse 0; one step at the
        peak is the closest) and fewer than the run's steps."""
        steps = round(self.warmup_ratio * total_steps) if self.warmup_ratio is not None else self.warmup_steps
        return max(min(steps, total_steps - 1), 1)


class CheckpointConfig(StrictConfig):
    save_every_n_steps: int | None = Field(default=None, gt=0)
    """A resumable checkpoint (DeepSpeed state and data position) every N steps."""

    max_failures: int = Field(default=0, ge=0)
    """Worker-group restarts after a failure (a killed worker, a lost node), each resuming from
    the latest checkpoint."""


class WorkersConfig(StrictConfig):
    """The Ray Train worker group."""

    num_workers: int = Field(default=2, gt=0)
    """Ray Train workers (data-parallel ranks)."""

    cpus_per_worker: float = Field(default=1.0, gt=0)
    gpus_per_worker: float = Field(default=0.0, ge=0)
    zero_stage: int = Field(default=2, ge=0, le=3)
    """DeepSpeed ZeRO stage."""

    start_timeout_s: int = Field(default=300, gt=0)
    """How long Ray Train waits for its worker group to start."""


# The main job's recipe before the dialect was shared: each old field and where it went.
_OLD_TRAIN = {
    "lr": "optimizer.lr",
    "betas": "optimizer.betas",
    "weight_decay": "optimizer.weight_decay",
    "optimizer": "optimizer.name",
    "schedule": "scheduler.name",
    "warmup_steps": "scheduler.warmup_steps",
    "warmup_ratio": "scheduler.warmup_ratio",
    "num_workers": "workers.num_workers",
    "cpus_per_worker": "workers.cpus_per_worker",
    "gpus_per_worker": "workers.gpus_per_worker",
    "zero_stage": "workers.zero_stage",
    "start_timeout_s": "workers.start_timeout_s",
    "epochs": "epochs",
    "max_steps": "max_steps",
    "micro_batch_size": "micro_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "seq_len": "data.max_length",
    "grad_clip": "grad_clip",
    "deepspeed": "deepspeed",
    "log_every": "log_every",
    "eval_every": "eval_every",
    "checkpoint_every": "checkpoint.save_every_n_steps",
    "max_failures": "checkpoint.max_failures",
    "base_cache_mb": "speculator.base_cache_mb",
}


class TrainConfig(Recipe):
    type: str = "train"
    """A method's recipe names its job here; a bare `TrainConfig` runs the shared loop alone."""

    model: ModelConfig = ModelConfig()
    data: TrainDataConfig = TrainDataConfig()
    micro_batch_size: int = Field(default=2, gt=0)
    """Sequences per worker per micro-step."""

    gradient_accumulation_steps: int = Field(default=1, gt=0)
    epochs: int = Field(default=1, gt=0)
    """Passes over a dataset of known size (a stream is read once)."""

    max_steps: int | None = Field(default=None, gt=0)
    """Stop after this many optimizer steps (None: run all epochs). Required for a stream, whose
    length is not known up front."""

    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    grad_clip: float = Field(default=1.0, gt=0)
    deepspeed: dict[str, Any] = {}
    """A DeepSpeed config merged over the one these fields make: its keys win (e.g. a ZeRO
    offload block); batch sizes that disagree with the fields above are an error."""

    checkpoint: CheckpointConfig = CheckpointConfig()
    workers: WorkersConfig = WorkersConfig()
    log_every: int = Field(default=5, gt=0)
    """Print (rank 0) and report metrics every N steps."""

    eval_every: int | None = Field(default=None, gt=0)
    """Run the trainer's evaluation every N steps (it always runs before and after training)."""

    sequence_parallel_size: int = Field(default=1, ge=1)
    """Ranks one sequence is split over (Ulysses sequence parallelism, ArcticTraining's name): the
    ranks of a group (consecutive, so a group shares a node when it fits) compute each other's
    micro-batches together, each holding 1/N of the sequence. Must divide `workers.num_workers` and
    the model's attention heads."""

    tiled_mlp_compute: bool = False
    """Compute each MLP in sequence tiles (DeepSpeed's TiledMLP), recomputed in the backward: the
    MLP's activations of one tile at a time."""

    logits_tile_tokens: int | None = Field(default=None, gt=0)
    """Compute the LM head, the loss and per-token log-probs this many target tokens at a time,
    recomputed in the backward, so the whole [tokens, vocab] logits never exist; None: at once."""

    gradient_checkpointing: bool = False
    """Keep only each decoder layer's input in the forward and recompute the layer in the backward."""

    activation_checkpoint_cpu_offload: bool = False
    """With gradient checkpointing, keep those layer inputs in CPU memory until the backward (on a
    GPU it frees device memory; on a CPU it changes nothing)."""

    moved = {f"train.{old}": new for old, new in _OLD_TRAIN.items()}

    @model_validator(mode="before")
    @classmethod
    def _model_is_a_block(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("model"), str):
            raise ValueError(f"model: moved to model.name_or_path (model: {{name_or_path: {raw['model']}}})")
        return raw

    @model_validator(mode="after")
    def _sequence_parallel_fits(self) -> TrainConfig:
        if self.workers.num_workers % self.sequence_parallel_size:
            raise ValueError(
                f"workers.num_workers: {self.workers.num_workers} is not a multiple of "
                f"sequence_parallel_size {self.sequence_parallel_size}"
            )
        if self.activation_checkpoint_cpu_offload and not self.gradient_checkpointing:
            raise ValueError(
                "activation_checkpoint_cpu_offload: offloads the checkpointed layer inputs; set gradient_checkpointing"
            )
        return self

    @property
    def rows_per_step(self) -> int:
        """Rows (sequences) one optimizer step takes over every worker."""
        return self.workers.num_workers * self.micro_batch_size * self.gradient_accumulation_steps
