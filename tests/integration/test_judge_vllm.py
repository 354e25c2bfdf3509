"""The LLM judge's structured-output path on vLLM (the tiny model, CPU): the rubric's JSON
schema goes to vLLM as `structured_outputs`, so even a model that knows nothing answers with a
verdict that parses: every row is judged (kept or rejected by its score), none fails closed."""

from __future__ import annotations

from arctic_ray.curate.judges.llm import LLMJudgeConfig
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

ROWS = [
    {
        "id": f"r{i}",
        "messages": [{"role": "user", "content": f"What is {i} plus {i}?"}],
        "completion": f"It is {2 * i}.",
    }
    for i in range(2)
]


def test_llm_judge_on_vllm_answers_every_row_through_structured_output(ray_local, tiny_model, tmp_path):
    synth = VLLMSynthConfig(max_model_len=1024, kv_cache_bytes=128 << 20, batch_size=4)
    judge = LLMJudgeConfig(
        synth=synth, model=tiny_model, store=str(tmp_path / "store"), max_tokens=128, max_attempts=1, threshold=0.5
    )
    assert "structured_outputs" in judge.sampling(judge_schema(judge))
    result = judge.apply(ray_local.data.from_items(ROWS))
    kept, rejects = result.kept.take_all(), result.rejects.take_all()
    assert sorted(r["id"] for r in kept + rejects) == [r["id"] for r in ROWS]
    for row in kept:
        assert 0.5 <= row["judge_score"] <= 1.0
    for reject in rejects:  # a low score, never an unparseable answer
        assert reject["reason"].startswith("judge score"), reject["reason"]
    # the judge's engine pool reports its own counts (what a job's metrics carry per step): no engine died
    assert judge.backend_counts() == {"engine_restarts": 0, "retried_batches": 0, "poison_rows": 0}


def judge_schema(judge: LLMJudgeConfig):
    from arctic_ray.curate.judges.verdict import rubric_verdict

    return rubric_verdict([c.name for c in judge.rubric.criteria], judge.rubric.low, judge.rubric.high)
