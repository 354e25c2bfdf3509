"""One model answer checked against a reference answer, in this process: `math` equivalence
(math-verify), `exact` equality of the final answer, or a recipe's `regex`, each under a
per-answer CPU-time limit. `verifier.py` runs these checks over datasets in Ray tasks."""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from arctic_ray.core.errors import ArcticRayError

if TYPE_CHECKING:
    from arctic_ray.curate.judges.verifier import VerifierConfig

CORRECT, INCORRECT, UNPARSEABLE = "correct", "incorrect", "unparseable"
TIMEOUT, UNVERIFIABLE = "timeout", "unverifiable"
OUTCOMES = (CORRECT, INCORRECT, UNPARSEABLE, TIMEOUT, UNVERIFIABLE)
SHOWN_CHARS = 80


class Verdict(NamedTuple):
    verdict: str
    reason: str = ""


class _Expired(BaseException):
    """The per-answer timer's exception: not an Exception, so no `except Exception` in sympy or
    math-verify swallows it."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_Expired` in the block after `seconds` of this process's CPU time (a check is not
    charged for waiting on a busy machine); where signals cannot reach (a thread other than the
    main one), no limit here: the driver's deadline is the only one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _Expired

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def check_answer(cfg: VerifierConfig, gold: Any, completion: Any) -> Verdict:
    """One answer's verdict, in this process, with the per-answer timer."""
    gold_text, text = _text(gold), _text(completion)
    if not gold_text.strip():
        return Verdict(UNVERIFIABLE, f"no reference answer in {cfg.answer_field!r}")
    if not text.strip():
        return Verdict(UNPARSEABLE, f"no completion in {cfg.field!r}")
    check = {"math": _math, "exact": _exact, "regex": _regex}[cfg.kind]
    if cfg.kind == "math":
        load_math_verify()  # a missing package is the recipe's error, not each answer's
    try:
        with _time_limit(cfg.timeout_s):
            return check(cfg, gold_text, text)
    except _Expired:
        return Verdict(TIMEOUT, f"the check ran past timeout_s ({cfg.timeout_s:g} s of CPU)")
    except Exception as exc:  # a parser's bug is this answer's problem, not the batch's
        return Verdict(UNPARSEABLE, _shown(f"the check failed: {type(exc).__name__}: {exc}", 200))


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _shown(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def load_math_verify():
    """math-verify, imported on first use (sympy is a slow import). Its own timeouts are off
    (`_time_limit` covers a whole check and tells a timeout from a wrong answer), so its warning
    that they are off is noise."""
    try:
        import math_verify
    except ImportError as exc:
        raise ArcticRayError("verifier kind 'math' needs the math-verify package: pip install math-verify") from exc
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(lambda record: not record.getMessage().startswith("Timeout is disabled"))
    # sympy imports parts of itself on first use (a third of a second): not on an answer's clock
    half, point_five = (math_verify.parse(t, parsing_timeout=0) for t in ("$\\frac{1}{2}$", "0.5"))
    math_verify.verify(half, point_five, timeout_seconds=None)
    return math_verify


def _math(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    mv = load_math_verify()
    # a bare reference ("x^2+1") is no LaTeX environment math-verify looks for: box it
    boxed = gold if "\\boxed" in gold or "$" in gold else f"\\boxed{{{gold}}}"
    reference = mv.parse(boxed, parsing_timeout=0)
    if not reference:
        return Verdict(UNVERIFIABLE, f"the reference answer {_shown(gold)!r} cannot be parsed as math")
    answer = mv.parse(text, parsing_timeout=0)
    if not answer:
        return Verdict(UNPARSEABLE, "no math answer found in the completion")
    if mv.verify(reference, answer, timeout_seconds=None):
        return Verdict(CORRECT)
    # never str() a parsed expression here: printing a huge one can hang; parse also gives the text it read
    texts = [a for a in answer if isinstance(a, str)]
    shown = repr(_shown(texts[-1])) if texts else "the answer"
    return Verdict(INCORRECT, f"{shown} does not equal the reference {_shown(gold)!r}")


_BOXED = "\\boxed{"
_ANSWER_IS = re.compile(r"answer\s*(?:is\s*:?|:)\s*(.+)", re.IGNORECASE)


def final_answer(text: str) -> str | None:
    """The last \\boxed{...}, else what follows the last "answer is" / "answer:" on its line,
    else the completion itself when it is one line; None when there is none."""
    start = text.rfind(_BOXED)
    if start >= 0:
        depth, begin = 1, start + len(_BOXED)
        for i in range(begin, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[begin:i]
    said = list(_ANSWER_IS.finditer(text))
    if said:
        return said[-1].group(1)
    stripped = text.strip()
    return stripped if stripped and "\n" not in stripped else None


def normalise(text: str) -> str:
    """Case, runs of whitespace and a trailing period do not make answers differ."""
    return " ".join(text.split()).casefold().rstrip(".").rstrip()


def _compare(answer: str, gold: str) -> Verdict:
    if normalise(answer) == normalise(gold):
        return Verdict(CORRECT)
    return Verdict(INCORRECT, f"{_shown(answer.strip())!r} does not equal the reference {_shown(gold.strip())!r}")


def _exact(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    answer = final_answer(text)
    if answer is None or not answer.strip():
        return Verdict(UNPARSEABLE, "no final answer: no \\boxed{}, no 'answer is' or 'answer:', and not one line")
    return _compare(answer, gold)


def _regex(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    matches = list(re.finditer(cast("str", cfg.pattern), text))
    answer = matches[-1].group(1) if matches else None
    if answer is None or not answer.strip():
        return Verdict(UNPARSEABLE, f"pattern {cfg.pattern!r} found no answer in the completion")
    return _compare(answer, gold)
