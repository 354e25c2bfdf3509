"""The pairwise judge (`type: pairwise`) for preference data: which of two completions of a
conversation is better, asked in both orders so that position bias cancels. A pair is labelled
only when both orders agree (`preferred`: "a" or "b", with `chosen` / `rejected` filled in);
orders that disagree, or both saying tie, make a tie. Ties are removed with their reason unless
`keep_ties`; a pair without a usable verdict in either order fails closed to rejects."""

from __future__ import annotations

import json
from typing import Literal

import pyarrow as pa
import ray.data
from pydantic import model_validator

from arctic_ray.curate.id_join import join_by_id
from arctic_ray.curate.judges.ask import AskingJudge
from arctic_ray.curate.judges.llm import verdict_columns
from arctic_ray.curate.judges.request_rows import judge_requests, unusable_reason, verdicts_by_row
from arctic_ray.curate.judges.rubric import PAIR_TEMPLATE, REPAIR, SYSTEM, check_template, conversation_text
from arctic_ray.curate.judges.verdict import PairVerdict, json_schema
from arctic_ray.curate.rejects import RAW, REASON, StepResult, split_marked

ORDERS = {"ab": ("a", "b"), "ba": ("b", "a")}
"""Request tag: which completion is shown first, which second."""


class PairwiseJudgeConfig(AskingJudge):
    type: Literal["pairwise"] = "pairwise"

    messages_field: str = "messages"
    a_field: str = "completion_a"
    b_field: str = "completion_b"
    system: str = SYSTEM
    template: str = PAIR_TEMPLATE
    """Fields: {conversation}, {first}, {second}, {schema}."""
    repair: str = REPAIR
    keep_ties: bool = False
    """Keep pairs the judge could not order (a tie, or a preference that flipped with the order)."""

    @model_validator(mode="after")
    def _check_templates(self) -> PairwiseJudgeConfig:
        check_template(self.template, "template", conversation="", first="", second="", schema="")
        check_template(self.repair, "repair", attempt=0, problem="", schema="")
        return self

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        schema_text = json_schema(PairVerdict)

        def asking(order: tuple[str, str]):
            first, second = (getattr(self, f"{side}_field") for side in order)

            def prompt(row: dict) -> list[dict]:
                text = self.template.format(
                    conversation=conversation_text(row[self.messages_field]),
                    first=row[first],
                    second=row[second],
                    schema=schema_text,
                )
                return [{"role": "system", "content": self.system}, {"role": "user", "content": text}]

            return prompt

        ds = ds.materialize()
        fields = [self.messages_field, self.a_field, self.b_field]
        requests = judge_requests(ds, {tag: asking(order) for tag, order in ORDERS.items()}, fields)
        verdicts = verdicts_by_row(self.ask(requests, PairVerdict, self.repair), list(ORDERS))
        joined = join_by_id(ds, verdicts, verdict_columns(list(ORDERS)), self.join_partitions)
        return split_marked(joined.map_batches(self._marked, batch_format="pyarrow"), self.stage)

    def _outcome(self, row: dict) -> dict:
        winners, why = [], []
        for tag, order in ORDERS.items():
            verdict, reason, raw = (row[c] for c in verdict_columns([tag]))
            if not verdict:  # fail closed, with what the judge said
                reason = reason or unusable_reason(row, [self.messages_field, self.a_field, self.b_field])
                return {REASON: f"order {tag}: {reason}", RAW: raw or ""}
            parsed = json.loads(verdict)
            winners.append({"first": order[0], "second": order[1], "tie": "tie"}[parsed["better"]])
            why.append(parsed["rationale"])
        label = winners[0] if winners[0] == winners[1] else "tie"
        out = {
            "preferred": label,
            "position_consistent": winners[0] == winners[1],
            "judge_rationale": json.dumps(why),
            REASON: "",
            RAW: "",
        }
        if label != "tie":
            loser = "b" if label == "a" else "a"
            out.update(chosen=row[getattr(self, f"{label}_field")], rejected=row[getattr(self, f"{loser}_field")])
        elif not self.keep_ties:
            flipped = f"the verdict flipped with the order ({'/'.join(winners)})"
            out[REASON] = "no preference: " + ("the judge called it a tie" if set(winners) == {"tie"} else flipped)
        return out

    def _marked(self, batch: pa.Table) -> pa.Table:
        outcomes = [self._outcome(row) for row in batch.to_pylist()]
        batch = batch.drop_columns(verdict_columns(list(ORDERS)))
        for name, kind in OUTPUT_COLUMNS:
            batch = batch.append_column(name, pa.array([o.get(name) for o in outcomes], kind))
        return batch


OUTPUT_COLUMNS = [
    ("preferred", pa.string()),
    ("position_consistent", pa.bool_()),
    ("chosen", pa.string()),
    ("rejected", pa.string()),
    ("judge_rationale", pa.string()),
    (REASON, pa.string()),
    (RAW, pa.string()),
]
