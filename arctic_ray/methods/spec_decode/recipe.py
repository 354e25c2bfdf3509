"""The recipe of the main job (`type: spec_decode`): the shared trainer dialect
(`train/config.py`) plus the job's own blocks: self-instruct, synthesis, the teacher, dedup, the
drafter (`speculator:`) and the vLLM eval."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.data.sources import SourceConfig
from arctic_ray.methods.spec_decode.drafters.config import SpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.eval_config import SpecDecodeEvalConfig
from arctic_ray.methods.spec_decode.self_instruct import SelfInstructConfig
from arctic_ray.methods.spec_decode.teacher.config import TeacherConfig
from arctic_ray.synth.backend import SynthConfig
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.train.config import ModelConfig, OptimizerConfig, SchedulerConfig, TrainConfig, TrainDataConfig


class PromptDataConfig(TrainDataConfig):
    sources: list[SourceConfig] = [SourceConfig(path=Path("examples/data/prompts.jsonl"))]
    """Prompt rows (`id` + `messages`), read in order; ids are unique across sources. A
    conversation ending with an assistant turn also carries that turn as a reference response."""

    limit: int | None = Field(default=None, gt=0)
    """Use only the first N prompts (None: all)."""

    max_length: int = Field(default=256, ge=8)
    """Tokens per training sequence (prompt and continuation); at least `teacher.gen_seq_length`."""


class SpecDecodeRecipe(TrainConfig):
    type: Literal["spec_decode"] = "spec_decode"
    model: ModelConfig = ModelConfig(name_or_path="smollm2-135m-instruct")
    """The base model the drafter is for."""

    output_dir: str = "runs/spec_decode"
    store: str = "runs/generation_store"
    """The generation store (content-keyed), a local directory or a pyarrow filesystem URI: a
    rerun, or any job asking the same, reuses it."""

    data: PromptDataConfig = PromptDataConfig()
    micro_batch_size: int = Field(default=4, gt=0)
    optimizer: OptimizerConfig = OptimizerConfig(lr=1e-3, betas=(0.9, 0.999))
    scheduler: SchedulerConfig = SchedulerConfig(name="linear", warmup_ratio=None, warmup_steps=5)
    self_instruct: SelfInstructConfig = SelfInstructConfig()
    synth: SynthConfig.union(default="vllm") = VLLMSynthConfig()  # pyright: ignore[reportInvalidTypeForm]  # every registered backend, a union built at import
    teacher: TeacherConfig = TeacherConfig()
    dedup: DedupConfig = DedupConfig()
    speculator: SpeculatorConfig.union(default="eagle3") = Eagle3Config()  # pyright: ignore[reportInvalidTypeForm]  # every registered drafter, a union built at import
    eval: SpecDecodeEvalConfig = Field(default_factory=SpecDecodeEvalConfig)

    moved = {
        **TrainConfig.moved,
        "store_dir": "store",
        "data.prompts": "data.sources (a list: [{path: ...}])",
        "eval.eval_every": "eval_every",
    }

    @model_validator(mode="after")
    def _consistent(self):
        if self.sequence_parallel_size > 1:
            raise ValueError(
                "sequence_parallel_size: the drafter trains on the target's features a whole sequence at a time; use 1"
            )
        t = self.teacher
        if t.gen_prompt_length >= t.gen_seq_length:
            raise ValueError(
                f"teacher.gen_prompt_length ({t.gen_prompt_length}) must be below "
                f"teacher.gen_seq_length ({t.gen_seq_length})"
            )
        max_len = getattr(self.synth, "max_model_len", None)
        longest = max(t.gen_seq_length, t.gen_prompt_length + self.eval.max_tokens)
        if max_len is not None and longest > max_len:
            raise ValueError(
                f"synth.max_model_len ({max_len}) is below the longest sequence generated ({longest} tokens)"
            )
        if t.mode == "online":
            if not self.max_steps:
                raise ValueError("teacher.mode online needs max_steps: a stream has no known length")
            if not isinstance(self.synth, VLLMSynthConfig):
                raise ValueError("teacher.mode online runs a vLLM engine: synth.backend must be vllm")
        if self.speculator.target_features == "engine" and not isinstance(self.synth, VLLMSynthConfig):
            raise ValueError(
                "speculator.target_features engine takes the target's states from a vLLM engine: "
                "synth.backend must be vllm (or set target_features: hf)"
            )
        if self.data.max_length < t.gen_seq_length:
            raise ValueError(
                f"data.max_length ({self.data.max_length}) is below teacher.gen_seq_length "
                f"({t.gen_seq_length}): generations would be cut"
            )
        return self
