"""The vLLM generation stage: real vLLM (CPU) inside ray.data.llm, on the tiny model."""

import pytest
import ray.data
import torch
from transformers import AutoModelForCausalLM

from arctic_ray.config.synth import SamplingConfig, VLLMSynthConfig
from arctic_ray.synth.schema import OUTPUT_COLUMNS
from arctic_ray.models.tiny import build_tiny_model
from arctic_ray.synth.vllm_stage import EngineConfigError, vllm_generate


def test_generates_in_the_shared_row_schema(ray_local, tiny_model):
    cfg = VLLMSynthConfig(
        sampling=SamplingConfig(max_tokens=12), batch_size=4, max_model_len=256, kv_cache_bytes=128 << 20
    )
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"Tell me about the number {i}."}]} for i in range(6)]
    rows[5]["sampling"] = {"max_tokens": 3}  # per-row sampling overrides the recipe's
    rows.append({"id": "too-long", "messages": [{"role": "user", "content": "word " * 400}]})
    out = {r["id"]: r for r in vllm_generate(ray.data.from_items(rows), tiny_model, cfg, "tiny").take_all()}
    assert set(out) == {r["id"] for r in rows}
    # A request the engine refuses is kept, with its reason, not dropped.
    refused = out.pop("too-long")
    assert refused["error"] and refused["finish_reason"] == "error" and refused["completion"] == ""
    for row in out.values():
        assert set(OUTPUT_COLUMNS) <= set(row)
        assert row["error"] == "" and row["backend"] == "vllm" and row["model"] == "tiny"
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


def test_a_model_the_cpu_engine_cannot_run_is_refused_up_front(ray_local, tmp_path):
    model = build_tiny_model(tmp_path / "head16", hidden_size=64, num_heads=4, num_kv_heads=2)
    rows = ray.data.from_items([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(EngineConfigError, match="head size 16 is not one of"):
        vllm_generate(rows, str(model), VLLMSynthConfig())
