"""Cortex's JSON answers are read whatever the case of their keys (fakesnow upper-cases them)."""

from __future__ import annotations

import pytest

from arctic_ray.synth.backends.cortex.answer import parse_answer

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")  # fakesnow's own


def test_cortex_answers_are_read_case_insensitively():
    upper = parse_answer('{"CHOICES": [{"MESSAGES": "hi"}], "USAGE": {"PROMPT_TOKENS": 3, "COMPLETION_TOKENS": 1}}')
    assert (upper.completion, upper.prompt_tokens, upper.completion_tokens) == ("hi", 3, 1)
    newer = parse_answer({"choices": [{"message": {"content": "yo"}, "finish_reason": "length"}], "usage": {}})
    assert (newer.completion, newer.finish_reason, newer.prompt_tokens) == ("yo", "length", 0)
    with pytest.raises(ValueError):
        parse_answer("Cortex is busy")
