"""The verifier's check of one answer, in this process (no Ray): math equivalence through
math-verify, exact and regex answers, the outcomes that are not a yes or no (unparseable,
unverifiable, timeout) with their reasons, and recipe errors that name the field."""

from __future__ import annotations

import signal

import pytest
from pydantic import ValidationError

from arctic_ray.core.config import StrictConfig
from arctic_ray.curate.judges.answer_check import (
    CORRECT,
    INCORRECT,
    TIMEOUT,
    UNPARSEABLE,
    UNVERIFIABLE,
    check_answer,
    final_answer,
    normalise,
)
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.judges.verifier import VerifierConfig

MATH = VerifierConfig()


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("42", "Adding them up, so the answer is \\boxed{42}"),
        ("1/2", "0.5"),
        ("\\frac{1}{2}", "The answer is 1/2."),
        ("x^2+1", "We get $1+x^2$."),
        ("42", "The answer is 42."),
        (42, "The answer is 42."),  # a numeric reference column
    ],
)
def test_math_equivalent_answers_are_correct(gold, completion):
    assert check_answer(MATH, gold, completion) == (CORRECT, "")


def test_math_wrong_answer_is_incorrect_with_both_answers_in_the_reason():
    verdict, reason = check_answer(MATH, "42", "Let me see. The answer is 41.")
    assert verdict == INCORRECT
    assert "'41'" in reason and "'42'" in reason


@pytest.mark.parametrize("completion", ["I don't know", "", None, "   "])
def test_no_answer_in_the_completion_is_unparseable(completion):
    verdict, reason = check_answer(MATH, "42", completion)
    assert verdict == UNPARSEABLE and reason


@pytest.mark.parametrize("gold", ["", "   ", None])
def test_no_reference_is_unverifiable(gold):
    for kind in ("math", "exact"):
        assert check_answer(VerifierConfig(kind=kind), gold, "The answer is 3.") == (
            UNVERIFIABLE,
            "no reference answer in 'answer'",
        )


def test_a_reference_that_is_no_math_is_unverifiable():
    verdict, reason = check_answer(MATH, "\\boxed{}", "The answer is 3.")
    assert verdict == UNVERIFIABLE and "cannot be parsed" in reason


def test_final_answer_and_normalise():
    assert final_answer("work... \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"
    assert final_answer("First A.\nThe answer is B.\nSo the answer: C. ") == "C. "
    assert final_answer("  Paris  ") == "Paris"
    assert final_answer("some reasoning\nmore reasoning") is None
    assert normalise("  New   York. ") == normalise("new york") == "new york"


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [
        ("The capital is\n\nAnswer:   New   York. ", CORRECT),
        ("\\boxed{new york}", CORRECT),
        ("new york", CORRECT),
        ("The answer is Boston.", INCORRECT),
        ("I thought about it.\nStill not sure.", UNPARSEABLE),
    ],
)
def test_exact(completion, verdict):
    assert check_answer(VerifierConfig(kind="exact"), "New York", completion).verdict == verdict


def test_regex_takes_the_group_of_the_last_match():
    cfg = VerifierConfig(kind="regex", pattern=r"####\s*(\S+)")
    assert check_answer(cfg, "18", "3 * 6 = 18\n#### 18") == (CORRECT, "")
    assert check_answer(cfg, "18", "#### 18 no wait\n#### 20").verdict == INCORRECT
    verdict, reason = check_answer(cfg, "18", "it is 18")
    assert verdict == UNPARSEABLE and "####" in reason


def test_a_slow_check_is_a_timeout_and_the_timer_is_restored():
    before = signal.getsignal(signal.SIGVTALRM)
    cfg = VerifierConfig(kind="regex", pattern=r"(a+)+b", timeout_s=0.3)  # catastrophic backtracking
    verdict, reason = check_answer(cfg, "ab", "a" * 40)
    assert verdict == TIMEOUT and "0.3 s" in reason
    assert signal.getsignal(signal.SIGVTALRM) is before
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


class Recipe(StrictConfig):
    curate: list[JudgeConfig.union(default="rules")] = []


def test_recipe_picks_the_verifier_and_names_a_wrong_pattern():
    step = Recipe.model_validate({"curate": [{"type": "verifier", "kind": "exact", "timeout_s": 2}]}).curate[0]
    assert isinstance(step, VerifierConfig) and step.stage == "verifier" and step.keep == "correct"
    for bad, why in [("(unclosed", "not a valid regular expression"), (r"\d+", "one capturing group")]:
        with pytest.raises(ValidationError, match=f"(?s)pattern.*{why}"):
            Recipe.model_validate({"curate": [{"type": "verifier", "kind": "regex", "pattern": bad}]})
    with pytest.raises(ValidationError, match="needs a `pattern`"):
        Recipe.model_validate({"curate": [{"type": "verifier", "kind": "regex"}]})
    with pytest.raises(ValidationError, match="timeout_s"):
        VerifierConfig(timeout_s=0)
