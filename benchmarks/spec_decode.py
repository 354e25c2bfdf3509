"""Speculative decoding measured in vLLM: trains an EAGLE-3 drafter with the main job (the
default recipe: SmolLM2-135M-Instruct, with self-instruct prompts added), then measures, on 16
held-out prompts, output tok/s with no speculation (the baseline), with ngram and with the
drafter, same engine settings, one run, warm-up first, median of repeats. One line per batch size:

  specdec: batch=B tau_sim=T vllm_accept_len=A tok_s_none=X tok_s_ngram=Y tok_s_drafter=Z speedup=Z/X ngram_speedup=Y/X

    python benchmarks/spec_decode.py            # SmolLM2-135M-Instruct (~20 min on 2 CPU cores)
    python benchmarks/spec_decode.py --tiny     # the tiny model, a couple of minutes
    python benchmarks/spec_decode.py --set speculator.n_predict=2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arctic_ray.cli import run_recipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def lines(metrics: dict) -> list[str]:
    v, tau = metrics["vllm"], metrics["simulated"]["trained"]["tau_sim"]
    accept = v["drafter"]["greedy"]["mean_acceptance_length"]
    out = []
    for bs in sorted(v["none"]["tok_s"]):
        none, ngram, drafter = (v[name]["tok_s"][bs] for name in ("none", "ngram", "drafter"))
        out.append(
            f"specdec: batch={bs} tau_sim={tau:.2f} vllm_accept_len={accept:.2f} tok_s_none={none:.1f} "
            f"tok_s_ngram={ngram:.1f} tok_s_drafter={drafter:.1f} speedup={drafter / none:.2f} ngram_speedup={ngram / none:.2f}"
        )
    return out


def main(argv=None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the tiny model instead of SmolLM2-135M-Instruct")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    recipe = EXAMPLES / ("spec_decode_tiny.yaml" if args.tiny else "spec_decode.yaml")
    overrides = [
        "self_instruct.enabled=true",
        "eval.num_prompts=16",
        "eval.batch_sizes=[1, 8]",
        "eval.repeats=2",
        "output_dir=runs/bench_spec_decode",
        *args.set,
    ]
    metrics = run_recipe(str(recipe), overrides)
    out = lines(metrics)
    print("\n".join(out))
    return out


if __name__ == "__main__":
    main()
