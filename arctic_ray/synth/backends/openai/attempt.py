"""One chat-completions attempt over the official async client, and what a failed attempt means:
retry or not, after how long, whether it may have been billed, and a short reason that never
holds the API key (the client's exceptions carry the request, headers included, and an error body
is whatever the server chose to echo)."""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass

import openai

from arctic_ray.synth.backend import extra_body, sample_seed
from arctic_ray.synth.token_estimate import text_tokens

RETRIED_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx; any other 4xx would fail the same way again."""

MAX_RETRY_AFTER_S = 120.0
"""A server asking for a longer wait is refused, as the openai client does: it is out of quota,
not busy."""

REASON_CHARS = 200


@dataclass(frozen=True)
class Answer:
    completion: str
    finish_reason: str
    usage: dict


@dataclass(frozen=True)
class Failure:
    reason: str
    retry: bool
    maybe_billed: bool
    """The request may have been generated (and charged) although no answer came back."""
    retry_after_s: float | None = None
    rate_limited: bool = False
    unsent: bool = False
    """Refused before it left (the spend limit): nothing went to the provider."""


class MalformedResponse(Exception):
    """A 2xx answer without the fields every chat completion has."""


def request_kwargs(model: str, messages: list[dict], sampling: dict, sample: int, token_limit_param: str) -> dict:
    kwargs = {
        "model": model,
        # Arrow gives every message the union of all messages' keys: drop the ones this lacks.
        "messages": [{k: v for k, v in m.items() if v is not None} for m in messages],
        "temperature": sampling["temperature"],
        "top_p": sampling["top_p"],
        token_limit_param: sampling["max_tokens"],
    }
    seed = sample_seed(sampling, sample).get("seed")
    if seed is not None:  # the n samples of one prompt must not share one, or a seeded provider answers alike
        kwargs["seed"] = seed
    if extra := extra_body(sampling):
        kwargs["extra_body"] = extra
    return kwargs


async def complete(client: openai.AsyncOpenAI, kwargs: dict, stream: bool, prompt_estimate: int) -> Answer:
    if stream:
        return await _complete_streamed(client, kwargs, prompt_estimate)
    response = await client.chat.completions.create(**kwargs)
    if not getattr(response, "choices", None):
        raise MalformedResponse("no choices in the answer")
    choice = response.choices[0]
    return _answer(choice.message.content or "", choice.finish_reason, response.usage, prompt_estimate)


async def _complete_streamed(client: openai.AsyncOpenAI, kwargs: dict, prompt_estimate: int) -> Answer:
    parts, finish_reason, usage = [], None, None
    stream = await client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
    async with stream:
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish_reason = choice.finish_reason or finish_reason
    if finish_reason is None:
        raise MalformedResponse("the stream ended before a finish_reason")
    return _answer("".join(parts), finish_reason, usage, prompt_estimate)


def _answer(completion: str, finish_reason: str | None, usage, prompt_estimate: int) -> Answer:
    if finish_reason is None:
        raise MalformedResponse("no finish_reason in the answer")
    if usage is None:  # a server that ignores include_usage: count what it would have said
        return Answer(
            completion, finish_reason, {"prompt_tokens": prompt_estimate, "completion_tokens": text_tokens(completion)}
        )
    return Answer(
        completion,
        finish_reason,
        {"prompt_tokens": int(usage.prompt_tokens or 0), "completion_tokens": int(usage.completion_tokens or 0)},
    )


def classify(exc: Exception, secret: str, timeout_s: float) -> Failure:
    """What a failed attempt means. Anything unforeseen is retried and counted as maybe billed:
    a row is never lost to a surprise, and a surprise never lowers the spend ledger."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure(f"timeout: no answer within {timeout_s:g} s", retry=True, maybe_billed=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return Failure(
            redact(f"connection error: {type(cause).__name__}: {cause}", secret), retry=True, maybe_billed=True
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, secret)
    if isinstance(exc, (MalformedResponse, openai.APIResponseValidationError, ValueError)):
        return Failure(redact(f"malformed response: {exc}", secret), retry=True, maybe_billed=True)
    return Failure(redact(f"{type(exc).__name__}: {exc}", secret), retry=True, maybe_billed=True)


def _status_failure(exc: openai.APIStatusError, secret: str) -> Failure:
    status = exc.status_code
    headers = exc.response.headers
    retry = status in RETRIED_STATUSES or status >= 500
    if isinstance(exc.body, dict) and exc.body.get("code") == "insufficient_quota":
        retry = False  # a 429 that no wait will fix
    should_retry = headers.get("x-should-retry")  # OpenAI's explicit verdict overrides ours
    if should_retry in ("true", "false"):
        retry = should_retry == "true"
    wait = retry_after_s(headers)
    reason = f"HTTP {status}: {_body_message(exc)}"
    if retry and wait is not None and wait > MAX_RETRY_AFTER_S:
        retry, reason = False, f"{reason} (Retry-After {wait:.0f} s is longer than {MAX_RETRY_AFTER_S:.0f} s)"
    return Failure(
        redact(reason, secret), retry=retry, maybe_billed=False, retry_after_s=wait, rate_limited=status == 429
    )


def _body_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, (dict, list)):
        return json.dumps(body)
    return str(body) if body else (exc.response.reason_phrase or "")


def retry_after_s(headers) -> float | None:
    """Seconds the server asked to wait: `retry-after-ms` (OpenAI's), else `Retry-After` as
    seconds (integer or, non-standard, float) or an HTTP date."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
    value = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(value) if value else None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else None


_CREDENTIAL = re.compile(r"(?i)(bearer\s+|api[-_]key[\"':=\s]+)[^\s\"',}]+")


def redact(text: str, secret: str) -> str:
    """A short reason with the key, and anything that looks like a credential, removed."""
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _CREDENTIAL.sub(r"\1[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."
