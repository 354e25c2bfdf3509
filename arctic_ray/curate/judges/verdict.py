"""A judge's answer as a pydantic model: the JSON schema the judge is asked for (and given as
structured output where the backend takes one), and the parser that accepts an answer or says
why not. Judges wrap JSON in prose or code fences; the first `{` to the last `}` is tried too,
and raw control characters inside its strings are accepted."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model

PROBLEM_CHARS = 200


def rubric_verdict(criteria: list[str], low: int, high: int) -> type[BaseModel]:
    """{criterion: integer score in [low, high], ..., "rationale": text}."""
    fields: dict[str, Any] = {name: (int, Field(ge=low, le=high)) for name in criteria}
    return create_model("RubricVerdict", rationale=(str, ...), **fields)


class PairVerdict(BaseModel):
    better: Literal["first", "second", "tie"]
    rationale: str


def json_schema(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), sort_keys=True)


def parse(text: str, model: type[BaseModel]) -> tuple[BaseModel | None, str]:
    """(the verdict, "") or (None, why the answer is not one)."""
    text = (text or "").strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None, "no JSON object in the answer"
    snippet = text[start : end + 1]
    try:
        return model.model_validate_json(snippet), ""
    except ValidationError as exc:
        try:  # a raw control character (a newline) inside a string: JSON forbids it, a judge's intent is plain
            return model.model_validate(json.loads(snippet, strict=False)), ""
        except (ValueError, ValidationError):
            pass
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        return None, f"invalid verdict: {where}: {first['msg']}"[:PROBLEM_CHARS]
