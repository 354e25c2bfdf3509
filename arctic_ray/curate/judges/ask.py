"""Asking a judge model through any synthesis backend, behind the generation store, until each
request has a verdict that parses or has failed closed.

An unparseable answer is asked again with a repair prompt (the bad answer and the problem, with
the attempt number in the text): a different request, so a different store key, and the store
does not hand back the same bad answer. After `max_attempts` the request fails with the raw
answer and the reason; a backend error fails it at once (the backend did its own retries).
Every request ends as one row of `VERDICTS`: a verdict, or a reason."""

from __future__ import annotations

import json

import pyarrow as pa
import ray.data
from pydantic import BaseModel, Field

from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.judges.verdict import json_schema, parse
from arctic_ray.synth.backend import SynthConfig, Target, target_for
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.synth.keyed import generate_stored

VERDICTS = pa.schema(
    [
        ("judge_key", pa.string()),
        ("tag", pa.string()),
        ("verdict", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
"""One row per request: `verdict` (JSON) when it parsed, else `reason` (and the last `raw` answer)."""

STRUCTURED = {"vllm": lambda schema: {"structured_outputs": {"json": schema}}}
"""Backends that take a JSON schema through a row's sampling (the vllm stage hands
`structured_outputs` to vLLM, whose engines decode it as compact JSON: `engines/vllm/settings.py`).
The openai backends send only the standard sampling fields, so there the schema goes in the
prompt alone."""


class AskingJudge(JudgeConfig):
    """The fields of every judge that asks a model (no `type`: not a recipe member itself)."""

    synth: SynthConfig.union(default="vllm") = Field(default_factory=VLLMSynthConfig)  # pyright: ignore[reportInvalidTypeForm]  # every registered backend, a union built at import
    """The synthesis backend the judge is asked through (its `sampling` is overridden: temperature 0)."""

    model: str = "smollm2-135m-instruct"
    """The judge model: a local path or HF name (vllm), a model or deployment name (APIs)."""

    store: str = "runs/generation_store"
    """The generation store the judge's answers are kept in (shared with synthesis)."""

    max_attempts: int = Field(default=3, ge=1)
    """Asks per request, the first included, before an unparseable answer fails closed."""

    max_tokens: int = Field(default=256, gt=0)
    structured_output: bool = True
    """Give the JSON schema to backends that constrain decoding with it (vllm)."""

    join_partitions: int = Field(default=4, ge=1)
    """Partitions of the shuffle that joins verdicts back onto rows."""

    def target(self) -> Target:
        return target_for(self.model, self.synth, self.store)

    def backend_counts(self) -> dict[str, int]:
        return self.synth.report(self.target())

    def sampling(self, schema: type[BaseModel]) -> dict:
        sampling = {"temperature": 0.0, "max_tokens": self.max_tokens}
        structured = STRUCTURED.get(self.synth.discriminator_value())
        if self.structured_output and structured:
            sampling.update(structured(bounded_schema(schema, self.max_tokens)))
        return sampling

    def ask(self, requests: ray.data.Dataset, schema: type[BaseModel], repair: str) -> ray.data.Dataset:
        """`requests`: rows of `judge_key`, `tag`, `messages`. Returns `VERDICTS` rows, one per request."""
        target, sampling, schema_text = self.target(), self.sampling(schema), json_schema(schema)

        def first(row: dict) -> dict:
            return {
                "id": request_id(row["judge_key"], row["tag"], 1),
                "messages": row["messages"],
                "sampling": sampling,
            }

        pending, done = requests.map(first).materialize(), []
        for attempt in range(1, self.max_attempts + 1):
            if pending.count() == 0:
                break
            last = attempt == self.max_attempts
            out = (
                generate_stored(pending, self.synth, target)
                .rows.map_batches(_judged(schema, last), batch_format="pyarrow")
                .materialize()
            )
            done.append(out.filter(lambda r: not r["retry"]).drop_columns(["retry", "messages"]))
            pending = out.filter(lambda r: r["retry"]).map(_repaired(repair, schema_text, sampling)).materialize()
        return (
            done[0].union(*done[1:])
            if len(done) > 1
            else (done[0] if done else ray.data.from_arrow(VERDICTS.empty_table()))
        )


def bounded_schema(schema: type[BaseModel], max_tokens: int) -> str:
    """The schema for constrained decoding, its free-text fields cut to half the token budget in
    characters (a token is at least one), so the verdict's object always closes within it."""
    spec = schema.model_json_schema()
    for prop in spec.get("properties", {}).values():
        if prop.get("type") == "string" and "enum" not in prop:
            prop.setdefault("maxLength", max(16, max_tokens // 2))
    return json.dumps(spec, sort_keys=True)


def request_id(judge_key: str, tag: str, attempt: int) -> str:
    return f"{judge_key}|{tag}|{attempt}"


def split_id(request: str) -> tuple[str, str, int]:
    judge_key, tag, attempt = request.rsplit("|", 2)
    return judge_key, tag, int(attempt)


def _judged(schema: type[BaseModel], last: bool):
    """Generated rows to `VERDICTS` rows, plus `retry` (parse again) and the request's `messages`."""

    def judged(batch: pa.Table) -> pa.Table:
        rows = []
        for row in batch.to_pylist():
            judge_key, tag, attempt = split_id(row["id"])
            raw, verdict, reason, retry = row.get("completion") or "", "", "", False
            if row.get("error"):
                reason = f"judge backend error: {row['error']}"
            else:
                parsed, problem = parse(raw, schema)
                if parsed is not None:
                    verdict = parsed.model_dump_json()
                elif last:
                    reason = f"unparseable judge answer after {attempt} attempts: {problem}"
                else:
                    retry, reason = True, problem
            rows.append(
                {
                    "judge_key": judge_key,
                    "tag": tag,
                    "verdict": verdict,
                    "reason": reason,
                    "raw": raw,
                    "retry": retry,
                    "messages": json.dumps(row["messages"]),
                }
            )
        return pa.Table.from_pylist(
            rows, schema=VERDICTS.append(pa.field("retry", pa.bool_())).append(pa.field("messages", pa.string()))
        )

    return judged


def _repaired(repair: str, schema_text: str, sampling: dict):
    def repaired(row: dict) -> dict:
        messages = json.loads(row["messages"])
        attempt = 1 + sum(1 for m in messages if m["role"] == "assistant")  # the attempt that failed
        ask_again = repair.format(attempt=attempt + 1, problem=row["reason"], schema=schema_text)
        messages += [{"role": "assistant", "content": row["raw"]}, {"role": "user", "content": ask_again}]
        return {"id": request_id(row["judge_key"], row["tag"], attempt + 1), "messages": messages, "sampling": sampling}

    return repaired
