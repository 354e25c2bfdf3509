"""The SFT job end to end on real parts: the example chats on the tiny model, packed, two Ray
Train workers with DeepSpeed ZeRO-2, eval loss before and after, and the export loaded by
transformers (with its chat template) and served by vLLM; then the tiny MoE with its routers
frozen, its load balance logged against the minimum."""

import json
from pathlib import Path

import pytest

from arctic_ray.pipeline import run_file

ROOT = Path(__file__).resolve().parents[2]


def test_sft_trains_packed_chats_and_exports_a_model_transformers_and_vllm_load(
    ray_local, tiny_model, tmp_path, monkeypatch
):
    monkeypatch.chdir(ROOT)
    m = run_file(
        str(ROOT / "examples/sft.yaml"),
        [
            f"output_dir={tmp_path}",
            "epochs=1",
            "max_steps=12",
            "eval_every=6",
            "log_every=2",
            "data.max_length=512",
            "optimizer.lr=0.005",
        ],
    )
    run_dir, train, data = Path(m["run_dir"]), m["train"], m["data"]
    assert train["steps"] == 12 and [e["step"] for e in train["eval_history"]] == [0, 6, 12]
    first, last = train["eval_history"][0]["eval_loss"], train["eval_history"][-1]["eval_loss"]
    assert last < first - 0.5, (first, last)  # it learned the chats, measured on held-out ones
    assert data["efficiency"] >= 0.9 and train["padding_fraction"] < 0.1
    sources = data["sources"]
    assert set(sources) == {"general", "math", "identity"} and sources["identity"]["used"] >= 2 * (
        10 - sources["identity"]["held_out"]
    )
    report = (run_dir / "report.md").read_text()
    assert {"loss.png"} <= {p.name for p in run_dir.iterdir()} and "![loss](loss.png)" in report
    assert m["sequence_layout"]["sequence_parallel_size"] == 1 and "Sequences: each sequence (up to" in report

    from transformers import AutoModelForCausalLM, AutoTokenizer

    export = m["export_dir"]
    tok = AutoTokenizer.from_pretrained(export)
    model = AutoModelForCausalLM.from_pretrained(export)
    assert tok.chat_template and model.config.num_hidden_layers == 4
    chat = [{"role": "user", "content": "Who are you?"}]
    assert tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False).endswith("assistant\n")

    from vllm import LLM, SamplingParams

    llm = LLM(
        model=export,
        dtype="float32",
        enforce_eager=True,
        max_model_len=256,
        kv_cache_memory_bytes=64 << 20,
        distributed_executor_backend="uni",
    )
    out = llm.chat([chat], SamplingParams(max_tokens=8, temperature=0))
    assert len(out[0].outputs[0].token_ids) > 0
    del llm


def test_moe_sft_logs_balance_against_its_minimum_with_routers_frozen(ray_local, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    m = run_file(
        str(ROOT / "examples/sft_moe.yaml"),
        [
            f"output_dir={tmp_path}",
            "max_steps=4",
            "log_every=1",
            "model.freeze_router=true",
            "data.max_length=128",
            "data.eval_fraction=0.02",
        ],
    )
    train = m["train"]
    moe, params = train["moe"], train["parameters"]
    assert moe["layers"] == 2 and moe["balance_loss_minimum"] == 2 * moe["top_k"]
    assert (
        params["frozen_router"] > 0
        and params["frozen_experts"] == 0
        and params["trainable"] == params["total"] - params["frozen_router"]
    )
    for h in train["history"]:
        per_layer = [h["balance_loss_l0"], h["balance_loss_l1"]]
        assert all(v >= 0.9 * moe["top_k"] for v in per_layer) and h["balance_loss"] == pytest.approx(
            sum(per_layer), rel=1e-5
        )
    assert (Path(m["run_dir"]) / "moe_balance.png").exists()
    assert json.loads((Path(m["run_dir"]) / "metrics.json").read_text())["train"]["moe"]["top_k"] == moe["top_k"]
