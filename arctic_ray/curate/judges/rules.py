"""Cheap rule filters, run before anything costly: an empty completion, one too long (characters
or words), one that refuses (a configurable list of phrases, matched case-insensitively). Each
removed row carries the rule that removed it."""

from __future__ import annotations

from typing import Literal

import ray.data
from pydantic import Field

from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.rejects import RAW, REASON, StepResult, split_marked

REFUSALS = (
    "as an ai language model",
    "as an ai assistant",
    "i'm sorry, but i can't",
    "i am sorry, but i cannot",
    "i cannot help with that",
    "i can't assist with that",
    "i cannot fulfill",
    "i'm unable to help",
)


class RulesConfig(JudgeConfig):
    type: Literal["rules"] = "rules"

    field: str = "completion"
    """The text column the rules read."""

    max_chars: int | None = Field(default=None, gt=0)
    max_words: int | None = Field(default=None, gt=0)
    refusal_phrases: list[str] = list(REFUSALS)
    """A completion containing any of these (case-insensitive) is a refusal; [] turns the rule off."""

    def reason(self, text: str | None) -> str:
        """Why a text is removed ("" when it passes), the first rule that fails."""
        text = text or ""
        if not text.strip():
            return "empty completion"
        if self.max_chars is not None and len(text) > self.max_chars:
            return f"too long: {len(text)} chars > max_chars {self.max_chars}"
        words = len(text.split())
        if self.max_words is not None and words > self.max_words:
            return f"too long: {words} words > max_words {self.max_words}"
        lowered = text.lower()
        for phrase in self.refusal_phrases:
            if phrase.lower() in lowered:
                return f"refusal phrase {phrase!r}"
        return ""

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        def mark(row: dict) -> dict:
            return {**row, REASON: self.reason(row.get(self.field)), RAW: ""}

        return split_marked(ds.map(mark), self.stage)
