from typing import Literal

from pydantic import Field

from arctic_ray.core.config import StrictConfig


class TeacherConfig(StrictConfig):
    mode: Literal["offline", "online"] = "offline"
    """offline: generate every continuation first (Ray Data + vLLM), then train for epochs.
    online: a vLLM engine actor beside the training workers generates while they train; the run
    length is `train.max_steps`."""

    gen_prompt_length: int = Field(default=128, gt=0)
    """Longest prompt sent, in tokens after the chat template; longer prompts are set aside."""

    gen_seq_length: int = Field(default=256, gt=1)
    """Prompt plus continuation, in tokens: each continuation is at most this minus its prompt."""

    batch_size: int = Field(default=16, gt=0)
    """Prompts per teacher call (online)."""

    max_ahead_rows: int = Field(default=64, gt=0)
    """Bounded buffer (online): the teacher runs at most this many rows ahead of what the
    trainer consumed (at least one batch per training rank and two more)."""

    cpus: float = Field(default=0.5, gt=0)
    """CPUs reserved for the teacher actor (fractions share cores with the training workers)."""

    gpus: float = Field(default=0.0, ge=0)
    """GPU share of the teacher's engine (0: vLLM on CPU); it shares the node with the trainers."""

    placement_timeout_s: float = Field(default=900, gt=0)
    """How long to wait for a node with room for the teacher and the trainers together (the
    autoscaler may have to start one) before the run stops with the reason."""

    max_restarts: int = Field(default=3, ge=0)
    """Times the teacher's actor is started again when its process dies (killed for memory, a
    crashed engine); the calls it was on are asked again and training goes on. Past this the
    run stops, saying so, with its last checkpoint."""

    gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)
    """On a GPU node the teacher shares a device with a training worker: its share of memory."""

    data_steps: int = Field(default=0, ge=0)
    """Train this many steps on the data's own responses (rows ending with an assistant turn)
    before the teacher's generations; 0 skips that stage."""
