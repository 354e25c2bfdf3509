"""The OpenAI backend's parts that need no server: recipe mistakes named, the sliding rate window,
the spend ledger, the budget actor's logic, Retry-After and redaction, the row's sampling in each
request, and the rough token estimate."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from pydantic import ValidationError

from arctic_ray.synth.backend import PricingConfig
from arctic_ray.synth.backends.openai.attempt import redact, request_kwargs, retry_after_s
from arctic_ray.synth.backends.openai.config import AzureOpenAISynthConfig, OpenAISynthConfig
from arctic_ray.synth.budget import RunBudget
from arctic_ray.synth.budget_accounting import SPEND_LIMIT_REACHED, PromptTokenRatio, SlidingWindow, SpendLedger
from arctic_ray.synth.openai_connection import OpenAIConnection
from arctic_ray.synth.token_estimate import estimate_prompt_tokens, text_tokens

KEY = f"sk-test-{uuid.uuid4().hex}"  # a key to redact (never in the environment: no request is sent here)


def test_recipe_mistakes_are_named():
    with pytest.raises(ValidationError, match="needs connection.kind 'azure'"):
        AzureOpenAISynthConfig(connection=OpenAIConnection())
    with pytest.raises(ValidationError, match="less than one request per window_s"):
        OpenAISynthConfig(requests_per_minute=30, window_s=1)
    with pytest.raises(ValidationError, match="spend_limit needs pricing"):
        OpenAISynthConfig(spend_limit=5)
    with pytest.raises(ValidationError, match="max_concurency"):
        OpenAISynthConfig.model_validate({"max_concurency": 4})
    assert AzureOpenAISynthConfig().connection.api_key_env == "AZURE_OPENAI_API_KEY"


def test_sliding_window_counts_requests_and_tokens_and_learns_from_usage():
    window = SlidingWindow(requests=2, tokens=100, window_s=1.0)
    assert window.delay(0.0, 40) == 0
    window.record(0.0, 1, 40)
    assert window.delay(0.1, 40) == pytest.approx(0.4)  # paced: one request every 0.5 s
    window.record(0.5, 2, 40)
    assert window.delay(0.6, 10) == pytest.approx(0.4)  # a third request waits for the first to leave
    window.record(1.0, 3, 50)
    assert window.delay(1.2, 30) == pytest.approx(0.3)  # 40 + 50 + 30 tokens: wait for the 40
    window.correct(3, 10)  # the answer used fewer tokens than booked
    assert window.delay(1.2, 30) == pytest.approx(0.3)  # still two requests in the window
    assert window.delay(1.5, 500) == pytest.approx(0.5)  # larger than the window: it goes alone

    ratio = PromptTokenRatio()
    assert ratio.scale(100) == 100
    ratio.learn(100, 150)
    assert ratio.scale(100) == 150
    ratio.learn(100, 100_000)
    assert ratio.value == PromptTokenRatio.HIGHEST


def test_spend_ledger_waits_on_requests_in_flight_then_refuses():
    ledger = SpendLedger(limit=1.0)
    ledger.reserve(1, 0.6)
    assert not ledger.fits(0.6) and ledger.refusal(0.6) == ""  # may fit once #1 settles below its reservation
    ledger.settle(1, 0.3)
    assert ledger.fits(0.6)
    ledger.reserve(2, 0.6)
    ledger.settle(2, None)  # failed and maybe billed: charged what it reserved
    assert ledger.spent == pytest.approx(0.9) and ledger.refusal(0.2).startswith(SPEND_LIMIT_REACHED)


def test_budget_actor_logic_grants_waits_and_refuses():
    async def scenario():
        budget = RunBudget(120, None, 1.0, PricingConfig(input_per_million=10), spend_limit=0.05, lease_s=60)
        started = time.monotonic()
        first = await budget.acquire(1000, 10)  # reserves $0.01
        assert first.permit and not first.refused
        second = await budget.acquire(1000, 10)  # 2 a second, paced: 0.5 s later
        assert time.monotonic() - started >= 0.45
        third = asyncio.ensure_future(budget.acquire(1000, 10))  # waits for the window to move on
        await asyncio.sleep(0.05)
        assert not third.done()
        budget.settle(first.permit, {"prompt_tokens": 2000, "completion_tokens": 10}, False)
        budget.settle(second.permit, None, False)
        assert (await third).permit and time.monotonic() - started >= 0.9
        assert budget.state()["prompt_token_ratio"] == 2.0
        budget.settle((await third).permit, None, True)  # charged its reservation: 2000 tokens, $0.02
        assert budget.state()["spent_usd"] == pytest.approx(0.04)
        refused = await budget.acquire(1000, 10)  # would reach $0.06
        assert refused.refused.startswith(SPEND_LIMIT_REACHED)

    asyncio.run(scenario())


def test_retry_after_headers_and_redaction():
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({}) is None
    text = redact(f"bad key {KEY} sent as Authorization: Bearer {KEY[:10]} and api-key: other-secret", KEY)
    assert KEY not in text and KEY[:10] not in text and "other-secret" not in text


def test_requests_carry_the_row_sampling_and_samples_differ_in_seed():
    messages = [{"role": "user", "content": "hi", "name": None}]
    sampling = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 5, "seed": 10}
    sent = request_kwargs("m", messages, sampling, 2, "max_completion_tokens")
    assert sent == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_completion_tokens": 5,
        "seed": 12,
    }
    assert "seed" not in request_kwargs("m", messages, {**sampling, "seed": None}, 0, "max_tokens")


def test_token_estimate_is_rough_but_cheap():
    assert text_tokens("abcdefgh") == 2 and text_tokens("日本語") == 3
    assert estimate_prompt_tokens([{"role": "user", "content": "x" * 400}]) == 3 + 4 + 100
