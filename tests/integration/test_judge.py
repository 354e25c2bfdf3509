"""LLM-as-judge through a real synthesis backend: the real `openai` client over HTTP to the
local fake server, which answers scripted judge replies (prose, bad JSON, good JSON) for rows
that carry a `[script:NAME]` marker. Every row ends kept or rejected with its reason; an
unparseable answer is repaired, then fails closed with the raw answer; a backend error loses no
row; a rerun asks nothing it has a stored answer for. Then the pairwise judge in both orders,
and a chain of rules, exact dedup and the LLM judge with counts per step."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import ray.data

from arctic_ray.curate.chain import run_chain
from arctic_ray.curate.judges.dedup_steps import ExactDedupStep
from arctic_ray.curate.judges.llm import LLMJudgeConfig
from arctic_ray.curate.judges.pairwise import PairwiseJudgeConfig
from arctic_ray.curate.judges.rules import RulesConfig
from arctic_ray.synth.backend import SamplingConfig
from arctic_ray.synth.backends.openai.config import OpenAISynthConfig
from arctic_ray.synth.openai_connection import OpenAIConnection
from tests.support.fake_openai import FakeOpenAI

KEY_ENV = "ARCTIC_RAY_TEST_JUDGE_KEY"
KEY = f"sk-judge-{uuid.uuid4().hex}"
os.environ[KEY_ENV] = KEY  # before the session's Ray starts, so its workers inherit it


def verdict(h: int, c: int, cl: int, why: str = "fine") -> str:
    return json.dumps({"helpfulness": h, "correctness": c, "clarity": cl, "rationale": why})


SCRIPTS = {
    "good": [verdict(9, 9, 9)],
    "low": [verdict(2, 3, 1, "wrong")],
    "prose-then-json": ["It is a lovely answer, I would give it a nine.", "Sure: " + verdict(8, 7, 9)],
    "never": ["no json here, sorry"],
    "out-of-range": [verdict(11, 9, 9)],
    "first": [json.dumps({"better": "first", "rationale": "the first is better"})],
    "second": [json.dumps({"better": "second", "rationale": "the second is better"})],
}


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI(api_key=KEY, scripts=SCRIPTS) as srv:
        yield srv


def synth(server: FakeOpenAI) -> OpenAISynthConfig:
    connection = OpenAIConnection(base_url=server.base_url, api_key_env=KEY_ENV, timeout_s=5)
    return OpenAISynthConfig(
        connection=connection,
        sampling=SamplingConfig(max_tokens=64),
        concurrency=1,
        batch_size=8,
        max_attempts=2,
        backoff_s=0.05,
    )


def row(rid: str, completion: str) -> dict:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": f"question {rid}"}],
        "completion": completion,
        "extra": rid.upper(),
    }


def outcome(result) -> tuple[dict, dict]:
    kept = {r["id"]: r for r in result.kept.take_all()}
    rejects = {r["id"]: r for r in result.rejects.take_all()}
    return kept, rejects


def test_llm_judge_keeps_scores_repairs_and_fails_closed(ray_local, server, tmp_path):
    server.reset()
    judge = LLMJudgeConfig(
        synth=synth(server), model="judge-model", store=str(tmp_path / "store"), max_attempts=2, threshold=0.5
    )
    rows = [
        row("good", "Paris is the capital of France. [script:good]"),
        row("low", "The sun orbits the earth. [script:low]"),
        row("repaired", "Water boils at 100 C at sea level. [script:prose-then-json]"),
        row("never", "Something. [script:never]"),
        row("range", "Something else. [script:out-of-range]"),
        row("down", "The judge's backend refuses this one [fail:400]"),
        row("empty", "   "),
    ]
    kept, rejects = outcome(judge.apply(ray.data.from_items(rows, override_num_blocks=3)))

    assert sorted(kept) == ["good", "repaired"] and len(kept) + len(rejects) == len(rows)
    assert kept["good"]["judge_score"] == pytest.approx(8 / 9) and kept["good"]["judge_score_rationale"] == "fine"
    assert json.loads(kept["repaired"]["judge_score_criteria"]) == {"helpfulness": 8, "correctness": 7, "clarity": 9}
    assert kept["good"]["extra"] == "GOOD"  # the row's own columns survive
    assert rejects["low"]["reason"] == "judge score 0.111 < threshold 0.5"
    assert rejects["never"]["reason"] == "unparseable judge answer after 2 attempts: no JSON object in the answer"
    assert rejects["never"]["raw"] == "no json here, sorry"  # the judge's raw answer is kept
    assert "helpfulness" in rejects["range"]["reason"] and "less than or equal to 10" in rejects["range"]["reason"]
    assert rejects["down"]["reason"].startswith("judge backend error: HTTP 400")
    assert rejects["empty"]["reason"] == "nothing to judge: 'completion' is empty"
    assert all(r["stage"] == "llm" for r in rejects.values()) and json.loads(rejects["low"]["row"])["extra"] == "LOW"

    # A repair is a new request (the bad answer and the problem in it): five first asks, three repairs.
    answered = [e.prompt for e in server.log if e.status == 200]
    assert (
        len(answered) == 8
        and sum(p.startswith("Your previous reply could not be used") and "attempt 2:" in p for p in answered) == 3
    )

    # A rerun asks nothing whose answer is stored (bad answers included); only the failed request goes again.
    server.reset()
    again_kept, again_rejects = outcome(judge.apply(ray.data.from_items(rows)))
    assert sorted(again_kept) == ["good", "repaired"] and set(again_rejects) == set(rejects)
    assert [e.prompt for e in server.log if "[fail:400]" not in e.prompt] == []


def test_pairwise_judge_asks_both_orders_and_drops_flips(ray_local, server, tmp_path):
    server.reset()
    judge = PairwiseJudgeConfig(synth=synth(server), model="judge-model", store=str(tmp_path / "store"))
    pairs = [
        # the marker of the answer shown first decides the reply: "a" wins in both orders
        {
            "id": "1",
            "messages": [{"role": "user", "content": "q1"}],
            "completion_a": "A1 [script:first]",
            "completion_b": "B1 [script:second]",
        },
        # "first" whichever comes first: position bias, no preference
        {
            "id": "2",
            "messages": [{"role": "user", "content": "q2"}],
            "completion_a": "A2 [script:first]",
            "completion_b": "B2 [script:first]",
        },
        {
            "id": "3",
            "messages": [{"role": "user", "content": "q3"}],
            "completion_a": "A3 [script:never]",
            "completion_b": "B3",
        },
    ]
    kept, rejects = outcome(judge.apply(ray.data.from_items(pairs)))
    assert list(kept) == ["1"]
    assert (kept["1"]["preferred"], kept["1"]["chosen"], kept["1"]["rejected"]) == (
        "a",
        "A1 [script:first]",
        "B1 [script:second]",
    )
    assert kept["1"]["position_consistent"] is True
    assert rejects["2"]["reason"] == "no preference: the verdict flipped with the order (a/b)"
    assert rejects["3"]["reason"].startswith("order ab: unparseable judge answer after 3 attempts")
    assert sum("A1 [script:first]" in e.prompt for e in server.log) == 2  # both orders asked


def test_a_chain_removes_cheap_rejects_first_and_counts_each_step(ray_local, server, tmp_path):
    server.reset()
    rows = [
        row("a", "A fine answer about rivers. [script:good]"),
        row("b", "a FINE answer about rivers.   [script:good]"),  # an exact duplicate of a, once normalised
        row("c", "As an AI language model I cannot do that. [script:good]"),
        row("d", "Another fine answer, about lakes. [script:low]"),
    ]
    steps = [
        RulesConfig(),
        ExactDedupStep(),
        LLMJudgeConfig(synth=synth(server), model="judge-model", store=str(tmp_path / "store")),
    ]
    result = run_chain(ray.data.from_items(rows), steps)
    assert sorted(r["id"] for r in result.kept.take_all()) == ["a"]
    assert [(c.stage, c.rows_in, c.removed) for c in result.counts] == [
        ("rules", 4, 1),
        ("exact_dedup", 3, 1),
        ("llm", 2, 1),
    ]
    rejects = {r["id"]: r for t in result.rejects for r in t.take_all()}
    assert rejects["b"]["reason"] == "exact duplicate of a (cluster a)" and rejects["c"]["stage"] == "rules"
    assert len([e for e in server.log if e.status == 200]) == 2  # nobody paid to judge b or c
