"""The LLM judge (`type: llm`): each row's conversation and completion rated on a rubric by a
judge model, through any synthesis backend at temperature 0, behind the generation store. The
scores are normalised to [0, 1]; rows at or above `threshold` are kept with their score,
per-criterion scores and rationale; the others go to rejects with the score. A row whose judge
never gave a usable verdict fails closed: it goes to rejects with the judge's raw answer and
the reason, never silently kept or dropped."""

from __future__ import annotations

import json
from typing import Literal

import pyarrow as pa
import ray.data
from pydantic import Field

from arctic_ray.curate.id_join import join_by_id
from arctic_ray.curate.judges.ask import AskingJudge
from arctic_ray.curate.judges.request_rows import judge_requests, unusable_reason, verdicts_by_row
from arctic_ray.curate.judges.rubric import Rubric, conversation_text
from arctic_ray.curate.judges.verdict import json_schema, rubric_verdict
from arctic_ray.curate.rejects import RAW, REASON, StepResult, split_marked


class LLMJudgeConfig(AskingJudge):
    type: Literal["llm"] = "llm"

    rubric: Rubric = Field(default_factory=Rubric)
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    """Rows whose normalised score (the rubric's mean, mapped onto [0, 1]) is below this are removed."""

    messages_field: str = "messages"
    completion_field: str = "completion"
    score_field: str = "judge_score"
    """Written on every judged row: the normalised score; `<score_field>_rationale` and
    `<score_field>_criteria` (JSON of the per-criterion scores) beside it."""

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        schema = rubric_verdict([c.name for c in self.rubric.criteria], self.rubric.low, self.rubric.high)
        schema_text = json_schema(schema)

        def prompt(row: dict) -> list[dict]:
            conversation = conversation_text(row[self.messages_field])
            user = self.rubric.prompt(conversation, str(row[self.completion_field]), schema_text)
            return [{"role": "system", "content": self.rubric.system}, {"role": "user", "content": user}]

        ds = ds.materialize()
        requests = judge_requests(ds, {"score": prompt}, [self.messages_field, self.completion_field])
        verdicts = verdicts_by_row(self.ask(requests, schema, self.rubric.repair), ["score"])
        joined = join_by_id(ds, verdicts, verdict_columns(["score"]), self.join_partitions)
        return split_marked(joined.map_batches(self._marked, batch_format="pyarrow"), self.stage)

    def _marked(self, batch: pa.Table) -> pa.Table:
        scores, rationales, criteria, reasons, raws = [], [], [], [], []
        for row in batch.to_pylist():
            verdict, reason, raw = (row[c] for c in verdict_columns(["score"]))
            reason = reason or unusable_reason(row, [self.messages_field, self.completion_field])
            score, why, per_criterion = None, "", None
            if verdict:
                parsed = json.loads(verdict)
                per_criterion = {c.name: parsed[c.name] for c in self.rubric.criteria}
                score, why = self.rubric.normalised(per_criterion), parsed["rationale"]
            scores.append(score)
            rationales.append(why)
            criteria.append(json.dumps(per_criterion) if per_criterion else "")
            if score is None:
                reasons.append(reason or "no verdict")
                raws.append(raw or "")
            else:
                reasons.append(
                    "" if score >= self.threshold else f"judge score {score:.3f} < threshold {self.threshold}"
                )
                raws.append("")
        batch = batch.drop_columns(verdict_columns(["score"]))
        return (
            batch.append_column(self.score_field, pa.array(scores, pa.float64()))
            .append_column(f"{self.score_field}_rationale", pa.array(rationales, pa.string()))
            .append_column(f"{self.score_field}_criteria", pa.array(criteria, pa.string()))
            .append_column(REASON, pa.array(reasons, pa.string()))
            .append_column(RAW, pa.array(raws, pa.string()))
        )


def verdict_columns(tags: list[str]) -> list[str]:
    return [f"_{tag}_{name}" for tag in tags for name in ("verdict", "reason", "raw")]
