"""What Cortex costs. Snowflake bills Cortex in credits per million tokens; a recipe gives prices
in credits (with the account's USD per credit) or in USD, and every total (`spend_limit`, the
run's tally) stays in USD."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from arctic_ray.synth.backend import PricingConfig


class CortexPricing(PricingConfig):
    unit: Literal["usd", "credits"] = "usd"
    """What `input_per_million` / `output_per_million` are in."""

    usd_per_credit: float = Field(default=3.0, gt=0)
    """The account's price of a credit, when prices are in credits."""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        amount = super().cost(prompt_tokens, completion_tokens)
        return amount * self.usd_per_credit if self.unit == "credits" else amount
