"""The vllm synthesis backend (a Ray Data pool of vLLM engine actors, through the generation store) against a
bare `vllm.LLM.chat` over the same prompts, model, engine settings and greedy sampling, in the
same run, start-up included for both (an engine's load is part of what a user waits for). The
baseline runs first, in a subprocess of its own, so neither engine shares memory or threads with
the other. Prompts: the example set, each asked in three variants, so every request is distinct.

`python benchmarks/synth_vllm.py [rows] [synth.FIELD=VALUE ...]`"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "smollm2-135m-instruct"
MAX_TOKENS = 96


def prompts(n: int) -> list[dict]:
    base = [json.loads(line) for line in (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()]
    rows = []
    for k in range(-(-n // len(base))):
        for row in base:
            content = row["messages"][-1]["content"] + ("" if k == 0 else f" (Answer variant {k}.)")
            rows.append({"id": f"{row['id']}-{k}", "messages": [{"role": "user", "content": content}]})
    return rows[:n]


def bare(n: int, engine: dict) -> tuple[float, int]:
    """(seconds, completion tokens) of a bare vllm.LLM.chat, start-up included: importing vLLM
    too (8-10 s here), as each engine actor on the Ray side imports it inside that side's clock."""
    started = time.perf_counter()
    from vllm import LLM, SamplingParams

    llm = LLM(model=engine.pop("model"), **engine)
    outs = llm.chat(
        [r["messages"] for r in prompts(n)], SamplingParams(temperature=0, max_tokens=MAX_TOKENS), use_tqdm=False
    )
    return time.perf_counter() - started, sum(len(o.outputs[0].token_ids) for o in outs)


def through_ray(n: int, synth) -> tuple[float, int]:
    import ray
    import ray.data

    from arctic_ray.core.runtime import RayConfig, init_ray
    from arctic_ray.data.driver_rows import dataset_of
    from arctic_ray.models.resolve import resolve_model
    from arctic_ray.synth.backend import target_for
    from arctic_ray.synth.keyed import generate_stored

    resolve_model(MODEL)  # built or converted before the clock starts
    init_ray(RayConfig())  # the local cluster the pipelines start
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ray.data.range(4).materialize()  # worker processes up before the clock starts
            started = time.perf_counter()
            gen = generate_stored(dataset_of(prompts(n)), synth, target_for(MODEL, synth, str(Path(tmp) / "store")))
            tokens = sum(r["usage"]["completion_tokens"] for r in gen.rows.select_columns(["usage"]).iter_rows())
            return time.perf_counter() - started, tokens
    finally:
        ray.shutdown()


def run(rows: int = 648, overrides: list[str] | None = None) -> str:
    """Ray Data runs one single-thread engine per core unless `overrides` say otherwise (on CPU a
    replica per core beat one engine over every core); the bare engine always gets every core."""
    from arctic_ray.core.recipe import parse_overrides
    from arctic_ray.models.resolve import resolve_model
    from arctic_ray.synth.backend import SamplingConfig
    from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

    cores = len(os.sched_getaffinity(0))
    fields = {"concurrency": cores, "threads_per_engine": 1, **parse_overrides(overrides or []).get("synth", {})}
    synth = VLLMSynthConfig(sampling=SamplingConfig(temperature=0, max_tokens=MAX_TOKENS), **fields)
    engine = {"model": str(resolve_model(MODEL)), **synth.engine_kwargs()}
    child = subprocess.run(
        [sys.executable, __file__, "--bare", str(rows), json.dumps(engine)],
        env={**os.environ, **synth.engine_env(), "OMP_NUM_THREADS": str(cores)},
        capture_output=True,
        text=True,
        check=True,
    )
    bare_s, bare_tokens = json.loads(child.stdout.strip().splitlines()[-1])
    ray_s, ray_tokens = through_ray(rows, synth)
    ray_tok_s, bare_tok_s = ray_tokens / ray_s, bare_tokens / bare_s
    return (
        f"synth: backend=vllm rows={rows} ray_tok_s={ray_tok_s:.0f} bare_vllm_tok_s={bare_tok_s:.0f} "
        f"ratio={ray_tok_s / bare_tok_s:.2f}"
        f" (engines={synth.concurrency}x{synth.threads_per_engine or cores} threads vs 1x{cores}; "
        f"tokens {ray_tokens} vs {bare_tokens})"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        print(json.dumps(bare(int(sys.argv[2]), json.loads(sys.argv[3]))))
    else:
        args = sys.argv[1:]
        print(run(*[int(a) for a in args if a.isdigit()][:1], overrides=[a for a in args if "=" in a]))
