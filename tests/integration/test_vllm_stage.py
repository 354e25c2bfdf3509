"""The vLLM generation stage behind the generation store: real vLLM (CPU) in a Ray Data actor pool,
on the tiny model."""

import pytest
import ray.data
import torch
from transformers import AutoModelForCausalLM

from arctic_ray.engines.vllm.settings import EngineConfigError
from arctic_ray.models.tiny import build_tiny_model
from arctic_ray.synth.backend import SamplingConfig, target_for
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.synth.keyed import generate_stored
from arctic_ray.synth.schema import OUTPUT_COLUMNS


def test_generates_in_the_shared_row_schema_and_stores_answers(ray_local, tiny_model, tmp_path):
    cfg = VLLMSynthConfig(
        sampling=SamplingConfig(max_tokens=12), batch_size=4, max_model_len=256, kv_cache_bytes=128 << 20
    )
    rows = [
        {"id": f"r{i}", "messages": [{"role": "user", "content": f"Tell me about the number {i}."}]} for i in range(6)
    ]
    rows[5]["sampling"] = {"max_tokens": 3}  # per-row sampling overrides the recipe's
    rows.append({"id": "too-long", "messages": [{"role": "user", "content": "word " * 400}]})
    first = generate_stored(ray.data.from_items(rows), cfg, target_for(tiny_model, cfg, str(tmp_path / "store")))
    out = {r["id"]: r for r in first.rows.take_all()}
    assert (first.reused, first.sent) == (0, 7) and set(out) == {r["id"] for r in rows}
    # A request the engine refuses is kept, with its reason, not dropped.
    refused = out.pop("too-long")
    assert refused["error"] and refused["finish_reason"] == "error" and refused["completion"] == ""
    for row in out.values():
        assert set(OUTPUT_COLUMNS) <= set(row)
        assert row["error"] == "" and row["backend"] == "vllm" and row["model"] == tiny_model
        assert row["usage"]["completion_tokens"] == len(row["completion_token_ids"]) > 0
        assert row["usage"]["prompt_tokens"] == len(row["prompt_token_ids"])
        assert row["finish_reason"] in {"stop", "length"}
    assert out["r5"]["usage"]["completion_tokens"] <= 3
    assert out["r0"]["usage"]["completion_tokens"] <= 12

    # Greedy float32 vLLM follows the same path as the transformers model it serves.
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    r = out["r1"]
    prompt = torch.tensor([r["prompt_token_ids"]])
    ref = model.generate(prompt, max_new_tokens=len(r["completion_token_ids"]), do_sample=False)
    assert ref[0, prompt.shape[1] :].tolist() == list(r["completion_token_ids"])

    # A rerun finds every stored answer: no engine starts, nothing is sent again.
    again = generate_stored(ray.data.from_items(rows[:6]), cfg, target_for(tiny_model, cfg, str(tmp_path / "store")))
    assert (again.reused, again.sent) == (6, 0)
    repeated = {r["id"]: r for r in again.rows.take_all()}
    assert list(repeated["r1"]["completion_token_ids"]) == list(r["completion_token_ids"])


def test_a_model_the_cpu_engine_cannot_run_fails_the_job_at_engine_start_with_the_reason(ray_local, tmp_path):
    model = build_tiny_model(tmp_path / "head16", hidden_size=64, num_heads=4, num_kv_heads=2)
    rows = ray.data.from_items([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}])
    generated = VLLMSynthConfig().generate(rows, target_for(str(model), VLLMSynthConfig(), str(tmp_path / "store")))
    with pytest.raises(Exception, match="head size 16 is not one of") as raised:
        generated.take_all()
    assert EngineConfigError.__name__ in str(raised.value)
