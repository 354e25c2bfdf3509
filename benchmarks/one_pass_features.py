"""The target's hidden states for drafter training, captured while the engine generates (what the
co-located teacher does) against the baseline of generating and then prefilling each finished
sequence with the capture hooks on (what it did before, and what the offline features stage
does). Same engine, same prompts, greedy; each way timed twice, alternating, median kept. Also
prints how far the two ways' states are apart (they are the same computation).

`python benchmarks/one_pass_features.py [rows] [max_tokens] [model]`"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(rows: int = 32, max_tokens: int = 128, model: str = "smollm2-135m-instruct") -> str:
    from vllm import SamplingParams

    from arctic_ray.data.chat import chat_ids
    from arctic_ray.engines.vllm.hidden_states import (
        engine_features,
        feature_engine_kwargs,
        generate_capturing,
        states_by_request,
    )
    from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm
    from arctic_ray.methods.spec_decode.frozen_base import default_aux_layers
    from arctic_ray.models.resolve import resolve_model

    path = str(resolve_model(model))
    layers = list(default_aux_layers(json.loads((Path(path) / "config.json").read_text())["num_hidden_layers"]))
    engine = VLLMEngineConfig(max_model_len=512)
    llm = start_llm(path, engine, **feature_engine_kwargs(engine.max_model_len))
    tokenizer = llm.get_tokenizer()
    lines = (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()[:rows]
    prompts = [
        {"prompt_token_ids": chat_ids(tokenizer, json.loads(line)["messages"], add_generation_prompt=True)}
        for line in lines
    ]
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    llm.generate(prompts[:2], params, use_tqdm=False)  # warm

    def generate_then_prefill():
        outs = llm.generate(prompts, params, use_tqdm=False)
        sequences = [list(o.prompt_token_ids) + list(o.outputs[0].token_ids) for o in outs]
        return outs, engine_features(llm, sequences, layers)

    def one_pass():
        outs, records = generate_capturing(llm, prompts, params, layers)
        states = states_by_request(records, layers)
        return outs, [states[o.request_id].features for o in outs]

    times: dict[str, list[float]] = {"baseline": [], "one_pass": []}
    results = {}
    for _ in range(2):
        for name, way in (("baseline", generate_then_prefill), ("one_pass", one_pass)):
            started = time.perf_counter()
            results[name] = way()
            times[name].append(time.perf_counter() - started)
    (outs, want), (_, got) = results["baseline"], results["one_pass"]
    diff = max(float(np.abs(g - w[:-1]).max()) for g, w in zip(got, want, strict=True))
    tokens = sum(len(o.prompt_token_ids) + len(o.outputs[0].token_ids) for o in outs)
    base, fast = statistics.median(times["baseline"]), statistics.median(times["one_pass"])
    return (
        f"one-pass-features: model={model} rows={rows} tokens={tokens} generate_then_prefill_s={base:.1f} "
        f"one_pass_s={fast:.1f} ratio={base / fast:.2f}x (baseline: generate, then prefill with hooks) "
        f"max_abs_diff={diff:.2e}"
    )


def main(argv: list[str]) -> None:
    rows = int(argv[0]) if argv else 32
    max_tokens = int(argv[1]) if len(argv) > 1 else 128
    print(run(rows, max_tokens, *(argv[2:3])), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
