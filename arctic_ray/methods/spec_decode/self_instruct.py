"""Self-instruct: the base model writes new prompts from seed topics, through any synthesis
backend and the generation store. Answers that do not look like a prompt are set aside with the
reason; the caller deduplicates the rest against each other and the held-out eval prompts."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from pydantic import Field

from arctic_ray.core.config import StrictConfig
from arctic_ray.data.driver_rows import dataset_of
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.keyed import generate_stored

_QUOTES = "\"'`“”"


class SelfInstructConfig(StrictConfig):
    enabled: bool = False
    topics: Path = Path("examples/data/topics.txt")
    """Seed topics, one per line."""

    per_topic: int = Field(default=4, gt=0)
    """Prompts asked for per topic (independent samples)."""

    temperature: float = Field(default=1.0, gt=0)
    max_tokens: int = Field(default=64, gt=0)
    instruction: str = (
        "Write one question or request that a user might send to an AI assistant about {topic}. "
        "Reply with the question only."
    )
    """Sent as the user message; `{topic}` is replaced by each topic."""

    min_words: int = Field(default=4, gt=0)


def read_topics(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def topic_requests(cfg: SelfInstructConfig) -> list[dict]:
    rows = []
    for topic in read_topics(cfg.topics):
        for sample in range(cfg.per_topic):
            rows.append(
                {
                    "id": f"si-{zlib.crc32(topic.encode()):08x}-{sample}",
                    "messages": [{"role": "user", "content": cfg.instruction.format(topic=topic)}],
                    "sample": sample,
                    "sampling": {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens, "seed": sample},
                }
            )
    return rows


def as_prompt(completion: str, min_words: int) -> tuple[str, str]:
    """(prompt text, reason it is unusable or "")."""
    text = completion.strip().split("\n\n")[0].strip().strip(_QUOTES).strip()
    text = re.sub(r"^(question|request|prompt)\s*:\s*", "", text, flags=re.IGNORECASE)
    if not text:
        return "", "empty answer"
    if len(text.split()) < min_words:
        return text, f"fewer than {min_words} words"
    return text, ""


def self_instruct(cfg: SelfInstructConfig, synth: SynthConfig, target: Target):
    """Returns (prompt rows, rejects with reasons, counts)."""
    requests = topic_requests(cfg)
    generated = generate_stored(dataset_of(requests), synth, target)
    prompts, rejects = [], []
    for row in generated.rows.iter_rows():
        text, reason = as_prompt(row["completion"], cfg.min_words) if not row["error"] else ("", row["error"])
        if reason:
            rejects.append({"stage": "self_instruct", "id": row["id"], "reason": reason, "row": row["completion"]})
        else:
            prompts.append({"id": row["id"], "messages": [{"role": "user", "content": text}], "response": ""})
    counts = {"asked": len(requests), "reused": generated.reused, "sent": generated.sent, "usable": len(prompts)}
    return sorted(prompts, key=lambda r: r["id"]), rejects, counts
