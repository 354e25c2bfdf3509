from typing import Annotated, Any

from pydantic import AfterValidator, Field

from arctic_ray.core.strict_config import StrictConfig
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


class TrainConfig(WorkersConfig):
    epochs: int = Field(default=1, gt=0)
    """Passes over a dataset of known size (a stream is read once)."""

    max_steps: int | None = Field(default=None, gt=0)
    """Stop after this many optimizer steps (None: run all epochs). Required for a stream, whose
    length is not known up front."""

    micro_batch_size: int = Field(default=4, gt=0)
    """Sequences per worker per step."""

    gradient_accumulation_steps: int = Field(default=1, gt=0)
    seq_len: int = Field(default=256, ge=8)
    """Sequences are cut or padded to this many tokens."""

    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: OptimizerName = "adamw"
    """A registered optimizer (`arctic-ray list`)."""

    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW's (beta1, beta2)."""

    schedule: ScheduleName = "linear"
    """A registered schedule after warmup: `linear` or `cosine` decay to 0, or `constant`."""

    warmup_steps: int = Field(default=5, ge=0)
    warmup_ratio: float | None = Field(default=None, ge=0, lt=1)
    """Warmup as a share of the run's steps; when set it wins over `warmup_steps`."""

    grad_clip: float = Field(default=1.0, gt=0)
    deepspeed: dict[str, Any] = {}
    """A DeepSpeed config merged over the one these fields make: its keys win (e.g. a ZeRO
    offload block); batch sizes that disagree with the fields above are an error."""

    log_every: int = Field(default=5, gt=0)
    """Print (rank 0) and report metrics every N steps."""

    eval_every: int | None = Field(default=None, gt=0)
    """Run the trainer's evaluation on the eval set every N steps (it always runs at the end)."""

    base_cache_mb: int = Field(default=1024, ge=0)
    """Per worker, keep a frozen helper model's outputs for up to this many MiB on the CPU, so
    epochs after the first skip its forward pass (0 turns it off)."""

    checkpoint_every: int | None = Field(default=None, gt=0)
    """Save a resumable checkpoint (DeepSpeed state + data position) every N steps."""

    max_failures: int = Field(default=0, ge=0)
    """Restarts of the worker group after a failure (a killed worker, a lost node); each resumes
    from the latest checkpoint."""

    @property
    def rows_per_step(self) -> int:
        """Rows (sequences) one optimizer step takes over every worker."""
        return self.num_workers * self.micro_batch_size * self.gradient_accumulation_steps
