"""Speculative decoding measured in vLLM, and the drafter's design choices measured in one run.

1. The main job (default recipe: SmolLM2-135M-Instruct, EAGLE-3): on its held-out prompts and on
   the foreign eval set, output tok/s with no speculation (the baseline), ngram, suffix decoding
   (cache on, warmed; and off) and the drafter at each k, same engine settings, warm-up first,
   median of repeats. One line per eval set and batch size, the drafter at the k that served best
   on the held-out prompts (one line, wrapped here):

   specdec: set=heldout|foreign batch=B tau_sim=T vllm_accept_len=A tok_s_none=X tok_s_ngram=Y
            tok_s_suffix=S tok_s_suffix_nocache=C tok_s_drafter=Z speedup=Z/X ngram_speedup=Y/X
            suffix_speedup=S/X suffix_nocache_speedup=C/X best_k=K

2. Ablations: drafters retrained on the same run's stored target features, one recipe field
   changed at a time from the default (`arctic-ray retrain`), judged by the simulated tau on the
   same held-out prompts, each for `--ablation-epochs` epochs. One line per variant:

   specdec-ablation: loss=L ttt=N draft_vocab=V init=I tau_sim=T

3. Per training worker, what it holds of the target and its peak memory, engine features
   against the whole base in every worker (`target_features: hf`):

   specdec-memory: features=F target_params_held=P drafter_params=D peak_rss_mb=M

    python benchmarks/spec_decode.py                 # SmolLM2-135M-Instruct (~40 min on 2 CPU cores)
    python benchmarks/spec_decode.py --tiny          # the tiny model, a few minutes
    python benchmarks/spec_decode.py --no-ablations --set speculator.n_predict=2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arctic_ray.methods.spec_decode.retrain import retrain
from arctic_ray.pipeline import run_file

BASELINES = ("ngram", "suffix", "suffix_nocache")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# (name, overrides): each changes one field of the default recipe
ABLATIONS = [
    ("default", []),
    ("loss_tv", ["speculator.loss=tv"]),
    ("loss_ce", ["speculator.loss=ce"]),
    ("ttt_1", ["speculator.ttt_steps=1"]),
    ("ttt_5", ["speculator.ttt_steps=5"]),
    ("vocab_512", ["speculator.draft_vocab_size=512"]),
    ("vocab_8192", ["speculator.draft_vocab_size=8192"]),
    ("init_random", ["speculator.init=random"]),
]


BASELINES = ("ngram", "suffix", "suffix_nocache")


def specdec_lines(metrics: dict) -> list[str]:
    """Per eval set and batch size, the drafter at the k that served best on the held-out prompts
    (`metrics["serving"]`); the foreign set is timed at that same k."""
    v, tau, serving = metrics["vllm"], metrics["simulated"]["trained"]["tau_sim"], metrics["serving"]
    accept = v["drafter"]["greedy"]["mean_acceptance_length"]
    out = []
    for eval_set in ("heldout", "foreign"):
        part = {name: r if eval_set == "heldout" else r.get(eval_set) for name, r in v.items() if "error" not in r}
        if not part.get("none"):
            continue
        for bs in sorted(part["none"]["tok_s"]):
            k = serving["best_num_speculative_tokens"][str(bs)]
            drafter = f"drafter_k{k}" if f"drafter_k{k}" in part else "drafter"  # `drafter`: at its n_predict
            names = ("none", *BASELINES, drafter)
            rate = {name: (part.get(name) or {}).get("tok_s", {}).get(bs, float("nan")) for name in names}
            none = rate["none"]
            out.append(
                f"specdec: set={eval_set} batch={bs} tau_sim={tau:.2f} vllm_accept_len={accept:.2f} "
                + " ".join(f"tok_s_{name}={rate[name]:.1f}" for name in ("none", *BASELINES))
                + f" tok_s_drafter={rate[drafter]:.1f} speedup={rate[drafter] / none:.2f} "
                + " ".join(f"{name}_speedup={rate[name] / none:.2f}" for name in BASELINES)
                + f" best_k={k}"
            )
    return out


def ablation_line(spec: dict, metrics: dict) -> str:
    ttt = spec.get("ttt_steps") or spec["n_predict"]
    tau = metrics["eval_history"][-1]["tau_sim"]
    return (
        f"specdec-ablation: loss={spec['loss']} ttt={ttt} draft_vocab={spec['draft_vocab_size']} "
        f"init={spec['init']} tau_sim={tau:.3f}"
    )


def memory_line(m: dict) -> str:
    return (
        f"specdec-memory: features={m['target_features']} target_params_held={m['target_params_held']} "
        f"drafter_params={m['drafter_params']} peak_rss_mb={m['peak_rss_mb']}"
    )


def main(argv=None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the tiny model instead of SmolLM2-135M-Instruct")
    p.add_argument("--no-ablations", action="store_true", help="only the main job's vLLM lines")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field (every run)"
    )
    p.add_argument(
        "--ablation-epochs", type=int, default=3, help="epochs of each ablation drafter (the default variant included)"
    )
    args = p.parse_args(argv)
    recipe = EXAMPLES / ("spec_decode_tiny.yaml" if args.tiny else "spec_decode.yaml")
    # the median of 3 timed passes per engine and all 36 foreign prompts (the demo recipe times fewer)
    overrides = [
        "eval.batch_sizes=[1, 8]",
        "eval.repeats=3",
        "eval.foreign_limit=null",
        "output_dir=runs/bench_spec_decode",
        *args.set,
    ]
    metrics = run_file(str(recipe), overrides)
    out = specdec_lines(metrics)
    print("\n".join(out), flush=True)
    if not args.no_ablations:
        run_dir = metrics["run_dir"]
        common = [*args.set, f"epochs={args.ablation_epochs}", "eval_every=100000"]
        for name, changes in ABLATIONS:
            m = retrain(run_dir, [*common, *changes], name)
            out.append(ablation_line(m["speculator"], m))
            print(out[-1], flush=True)
            if name == "default":
                engine_memory = memory_line(m)
        hf = retrain(run_dir, [*common, "epochs=1", "speculator.target_features=hf"], "features_hf")
        out += [engine_memory, memory_line(hf)]
        print("\n".join(out[-2:]), flush=True)
    print("\n" + "\n".join(out))
    return out


if __name__ == "__main__":
    main()
