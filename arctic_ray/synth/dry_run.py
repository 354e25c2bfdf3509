"""`--dry-run`: what a synthesis run would send and what it would cost, before anything is sent.
Rows the store already answers cost nothing; each other request is priced at its estimated
prompt tokens plus its whole `max_tokens` budget (an upper bound: answers often stop earlier)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.keyed import row_key
from arctic_ray.synth.schema import split_requests
from arctic_ray.synth.store import GenerationStore
from arctic_ray.synth.synthesize import expand_samples
from arctic_ray.synth.token_estimate import estimate_prompt_tokens


@dataclass
class CostEstimate:
    rows: int
    from_store: int
    to_send: int
    refused: int
    prompt_tokens: int
    max_completion_tokens: int
    max_spend_usd: float
    spend_limit_usd: float | None

    def describe(self) -> str:
        limit = f", spend_limit {self.spend_limit_usd} USD" if self.spend_limit_usd else ""
        return (
            f"dry run: {self.rows} requests: {self.from_store} answered by the store, {self.to_send} to send, "
            f"{self.refused} refused; ~{self.prompt_tokens} prompt tokens + at most {self.max_completion_tokens} "
            f"completion tokens = at most {self.max_spend_usd:.4f} USD{limit}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_cost(rows: list[dict], synth: SynthConfig, target: Target, samples: int = 1) -> CostEstimate:
    ok, refused = split_requests(rows)
    requests = expand_samples(ok, samples)
    keys = [row_key(synth, r, target.model_key) for r in requests]
    stored = GenerationStore(target.store).get_many(keys)
    prompt = completion = 0
    for row, key in zip(requests, keys, strict=False):
        if key in stored:
            continue
        prompt += estimate_prompt_tokens(row["messages"])
        completion += int((row.get("sampling") or {}).get("max_tokens") or synth.sampling.max_tokens)
    return CostEstimate(
        rows=len(requests),
        from_store=len(stored),
        to_send=len(requests) - len(stored),
        refused=len(refused),
        prompt_tokens=prompt,
        max_completion_tokens=completion,
        max_spend_usd=synth.pricing.cost(prompt, completion),
        spend_limit_usd=synth.spend_limit,
    )
