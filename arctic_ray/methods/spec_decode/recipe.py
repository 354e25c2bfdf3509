"""The recipe of the main job (`job: spec_decode`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.core.strict_config import StrictConfig
from arctic_ray.methods.spec_decode.data_config import PromptDataConfig
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.methods.spec_decode.eval_config import SpecDecodeEvalConfig
from arctic_ray.core.ray_config import RayConfig
from arctic_ray.train.config import TrainConfig
from arctic_ray.methods.spec_decode.drafters.config import SpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.synth.backend import SynthConfig
from arctic_ray.methods.spec_decode.self_instruct import SelfInstructConfig
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.methods.spec_decode.teacher.config import TeacherConfig


class SpecDecodeRecipe(StrictConfig):
    job: Literal["spec_decode"] = "spec_decode"
    """Which job runs this recipe."""

    model: str = "smollm2-135m-instruct"
    """Base model: a built-in name ("tiny", "tiny4", "smollm2-135m-instruct"), an HF name or a local path."""

    output_dir: Path = Path("runs/spec_decode")
    """Each run writes a new timestamped directory under this one."""

    store_dir: Path = Path("runs/generation_store")
    """The generation store (content-keyed): a rerun, or any job asking the same, reuses it."""

    seed: int = 0
    data: PromptDataConfig = PromptDataConfig()
    self_instruct: SelfInstructConfig = SelfInstructConfig()
    synth: SynthConfig.union(default="vllm") = VLLMSynthConfig()  # type: ignore[valid-type]
    teacher: TeacherConfig = TeacherConfig()
    dedup: DedupConfig = DedupConfig()
    speculator: SpeculatorConfig.union(default="eagle3") = Eagle3Config()  # type: ignore[valid-type]
    train: TrainConfig = TrainConfig()
    eval: SpecDecodeEvalConfig = Field(default_factory=SpecDecodeEvalConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    @model_validator(mode="after")
    def _consistent(self):
        t = self.teacher
        if t.gen_prompt_length >= t.gen_seq_length:
            raise ValueError(f"teacher.gen_prompt_length ({t.gen_prompt_length}) must be below teacher.gen_seq_length ({t.gen_seq_length})")
        max_len = getattr(self.synth, "max_model_len", None)
        longest = max(t.gen_seq_length, t.gen_prompt_length + self.eval.max_tokens)
        if max_len is not None and longest > max_len:
            raise ValueError(f"synth.max_model_len ({max_len}) is below the longest sequence generated ({longest} tokens)")
        if t.mode == "online":
            if not self.train.max_steps:
                raise ValueError("teacher.mode online needs train.max_steps: a stream has no known length")
            if not isinstance(self.synth, VLLMSynthConfig):
                raise ValueError("teacher.mode online runs a vLLM engine: synth.backend must be vllm")
        if self.train.seq_len < t.gen_seq_length:
            raise ValueError(f"train.seq_len ({self.train.seq_len}) is below teacher.gen_seq_length ({t.gen_seq_length}): generations would be cut")
        return self
