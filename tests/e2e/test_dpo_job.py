"""The DPO job end to end on the tiny model: pairs whose preference is learnable (the chosen answer
always ends with a fixed phrase) are learned (held-out reward accuracy above 0.9, the margin
growing from 0), a malformed pair goes to rejects with its reason, the metrics are weighted by
pairs, and the export loads in transformers and in vLLM."""

from __future__ import annotations

import json
import math

from transformers import AutoModelForCausalLM

from arctic_ray.core.storage import local_copy
from arctic_ray.pipeline import run_file
from tests.support.files import ROOT


def learnable_pairs(path, n: int = 160) -> None:
    rows = [json.loads(line) for line in (ROOT / "examples/data/dpo/pairs.jsonl").read_text().splitlines()[:n]]
    out = []
    for r in rows:
        answer = r["chosen"][0]["content"]
        chosen = [{"role": "assistant", "content": answer + " Hope this helps!"}]
        out.append({"id": r["id"], "prompt": r["prompt"], "chosen": chosen, "rejected": r["chosen"]})
    out.append({"id": "broken", "prompt": rows[0]["prompt"], "chosen": rows[0]["chosen"]})  # no rejected
    path.write_text("".join(json.dumps(r) + "\n" for r in out))


def test_dpo_learns_a_learnable_preference_and_exports_what_vllm_loads(ray_local, session_cache, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    learnable_pairs(pairs)
    m = run_file(
        str(ROOT / "examples/dpo.yaml"),
        [
            f"output_dir={tmp_path}/runs",
            f"reference_store={tmp_path}/reference",
            f"data.sources=[{{path: {pairs}}}]",
            "data.eval_fraction=0.15",
            "optimizer.lr=2.0e-3",
            "eval_every=10",
        ],
    )
    first, last = m["train"]["eval_history"][0], m["train"]["eval_history"][-1]
    assert first["step"] == 0 and math.isclose(first["eval_dpo_loss"], math.log(2), abs_tol=1e-3)  # policy == reference
    assert abs(first["eval_rewards/margins"]) < 1e-3
    assert last["eval_rewards/accuracies"] > 0.9 and last["eval_rewards/margins"] > first["eval_rewards/margins"] + 0.5
    assert last["eval_pairs"] == m["data"]["pairs"]["eval"] > 10  # every held-out pair counted once
    rejects = [json.loads(line) for line in (tmp_path / "runs").glob("*/rejects.jsonl").__next__().open()]
    assert [r["reason"] for r in rejects] == ["missing `rejected`"]
    assert m["reference"]["train"]["reused"] is False and m["train"]["parameters_held_per_worker"] > 0
    step = m["train"]["history"][-1]
    assert 0.0 <= step["rewards/accuracies"] <= 1.0 and "logps/chosen" in step and "rewards/margins" in step
    report = (tmp_path / "runs").glob("*/report.md").__next__().read_text()
    assert "![training](training.png)" in report and "rewards/accuracies" in report

    export = local_copy(m["export_dir"])
    AutoModelForCausalLM.from_pretrained(export)  # transformers loads it
    from arctic_ray.engines.vllm.settings import start_llm
    from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

    llm = start_llm(export, VLLMSynthConfig(max_model_len=256))
    out = llm.chat(
        [[{"role": "user", "content": "Ana has 3 apples and gets 4 more. How many apples?"}]], use_tqdm=False
    )
    assert out[0].outputs[0].token_ids  # vLLM serves it
