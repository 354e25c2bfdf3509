"""One import that registers every judge step, so `JudgeConfig.union()` sees them all."""

from arctic_ray.curate.judge import dedup_steps, llm, pairwise, reward_model, rules  # noqa: F401
