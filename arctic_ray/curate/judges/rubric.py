"""Rubric prompt templates as recipe data: the criteria, the scale, the system and user prompts
(str.format templates) and the repair prompt sent after an unparseable answer. The default rubric
is for instruction data: helpfulness, correctness and clarity, 1 to 10 each."""

from __future__ import annotations

from pydantic import model_validator

from arctic_ray.core.config import StrictConfig

SYSTEM = (
    "You are a strict, fair judge of answers written by an AI assistant. "
    "You reply with a single JSON object and nothing else."
)

TEMPLATE = """Rate the assistant's final answer to the conversation below.

[Conversation]
{conversation}

[Answer]
{completion}

Score each criterion as an integer from {low} to {high} ({low}: worst, {high}: best):
{criteria}

Reply with only a JSON object with one integer per criterion and a one-sentence "rationale", matching this JSON schema:
{schema}"""

REPAIR = """Your previous reply could not be used: {problem}.
This is attempt {attempt}: reply again with only a JSON object matching this JSON schema, with no other text:
{schema}"""

PAIR_TEMPLATE = """Compare two answers to the conversation below and say which is better.

[Conversation]
{conversation}

[First answer]
{first}

[Second answer]
{second}

Judge helpfulness, correctness and clarity; the order of the answers says nothing about their quality.
Reply with only a JSON object with "better" ("first", "second" or "tie") and a one-sentence "rationale", \
matching this JSON schema:
{schema}"""


class Criterion(StrictConfig):
    name: str
    """The key the judge answers with."""
    description: str


DEFAULT_CRITERIA = [
    Criterion(name="helpfulness", description="does the answer do what the user asked, completely"),
    Criterion(name="correctness", description="is everything it states true and its reasoning sound"),
    Criterion(name="clarity", description="is it well organised, concise and easy to follow"),
]


class Rubric(StrictConfig):
    criteria: list[Criterion] = DEFAULT_CRITERIA
    low: int = 1
    high: int = 10
    system: str = SYSTEM
    template: str = TEMPLATE
    """Fields: {conversation}, {completion}, {criteria}, {low}, {high}, {schema}."""
    repair: str = REPAIR
    """Fields: {attempt}, {problem}, {schema}."""

    @model_validator(mode="after")
    def _check(self) -> Rubric:
        if self.high <= self.low:
            raise ValueError(f"rubric high {self.high} must be above low {self.low}")
        if not self.criteria:
            raise ValueError("a rubric needs at least one criterion")
        check_template(self.template, "template", conversation="", completion="", criteria="", low=0, high=0, schema="")
        check_template(self.repair, "repair", attempt=0, problem="", schema="")
        return self

    def prompt(self, conversation: str, completion: str, schema: str) -> str:
        criteria = "\n".join(f"- {c.name}: {c.description}" for c in self.criteria)
        return self.template.format(
            conversation=conversation,
            completion=completion,
            criteria=criteria,
            low=self.low,
            high=self.high,
            schema=schema,
        )

    def normalised(self, scores: dict) -> float:
        """The mean score mapped from [low, high] onto [0, 1]."""
        mean = sum(scores[c.name] for c in self.criteria) / len(self.criteria)
        return (mean - self.low) / (self.high - self.low)


def check_template(template: str, name: str, **fields) -> None:
    try:
        template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{name}: not a template over {sorted(fields)}: {exc!r} (write literal braces as {{{{ }}}})"
        ) from exc


def conversation_text(messages) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)
