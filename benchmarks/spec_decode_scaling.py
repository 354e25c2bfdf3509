"""The data-scaling curve of the default drafter: how its acceptance and its speedup on the foreign
eval set grow with the training tokens, against ngram and suffix decoding measured once.

One pool of training prompts (the shuffled broad set, `examples/data/prompts/broad.jsonl`) is cut
into nested subsets of 1x, 2x, 4x and 8x (the first N prompts: each subset holds the smaller ones),
so the largest run generates the pool and every smaller one reads its answers from the store (a
rerun generates nothing). Each size trains the default drafter with epochs set so that every size
sees the same token-passes (8 epochs at 1x, 1 at 8x), then measures it in vLLM on the held-out
prompts and on the foreign set; the baselines (no speculation, ngram, suffix decoding with its
cache on and off) are timed in the first run, and every run times "no speculation" again, the
baseline of its own speedups. One line per size:

    specdec-scale: tokens=T tau_heldout=A tau_foreign=B speedup_foreign=S ngram_foreign=N suffix_foreign=X minutes=M

tau is vLLM's mean acceptance length (tokens per base forward) at batch 1 with the drafter at its
own k; speedups are at batch 1 against no speculation in the same run. The foreign set is the
same in every run; the held-out prompts are chosen among each subset's (by the stable hash of
their ids), so they differ between sizes, as the training prompts do. A last line fits speedup
against log(tokens) and says where the drafter would pass suffix decoding on the foreign set
(an extrapolation: read it as such). `--temperature-at SIZE` adds one run at that size whose
teacher samples at T=1.0 (Arctic's data generation does) instead of greedy. A plot goes to
`runs/bench_spec_decode_scaling/scaling.png`, the points to `points.json` beside it (give it to a
run as `eval.scaling_curve` and its report says where the run sits on the curve).

    python benchmarks/spec_decode_scaling.py                  # SmolLM2-135M-Instruct (long on 2 CPU cores)
    python benchmarks/spec_decode_scaling.py --tiny           # the tiny model, minutes
    python benchmarks/spec_decode_scaling.py --sizes 1 2 --temperature-at 1
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import yaml

from arctic_ray.pipeline import run_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "runs" / "bench_spec_decode_scaling"


def _speedup(case: dict, none: dict, eval_set: str) -> float:
    mine, base = (case, none) if eval_set == "heldout" else (case[eval_set], none[eval_set])
    return mine["tok_s"]["1"] / base["tok_s"]["1"]


def _accept(case: dict, eval_set: str) -> float:
    part = case if eval_set == "heldout" else case[eval_set]
    return part["greedy"]["mean_acceptance_length"]


def _run(recipe: Path, overrides: list[str]) -> dict:
    metrics = run_file(str(recipe), overrides)
    return json.loads(json.dumps(metrics))  # batch sizes as the strings metrics.json has


def main(argv=None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the tiny model (its built-in prompts) instead of SmolLM2")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="multiples of the smallest subset")
    p.add_argument("--temperature-at", type=int, default=None, help="one more run at this size, teacher at T=1.0")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    recipe = ROOT / "examples" / ("spec_decode_tiny.yaml" if args.tiny else "spec_decode.yaml")
    spec = yaml.safe_load(recipe.read_text())
    pool_file = ROOT / spec["data"]["sources"][0]["path"]
    pool = sum(1 for line in pool_file.open() if line.strip())
    unit, epochs = pool // 8, int(spec.get("epochs", 8))  # 8x: the whole pool
    common = [f"output_dir={OUT / 'runs'}", "eval.batch_sizes=[1]", *args.set]

    lines, points, baseline, model = [], [], None, None
    plan = [(size, 0.0) for size in sorted(args.sizes, reverse=True)]  # the largest generates the pool
    if args.temperature_at:
        plan.append((args.temperature_at, 1.0))
    for size, temperature in plan:
        overrides = [
            *common,
            f"data.limit={unit * size}",
            f"epochs={max(1, round(epochs / size))}",  # the same token-passes at every size
            f"synth.sampling.temperature={temperature}",
        ]
        if baseline is not None:  # the baselines once; "none" in every run (its speedups' baseline)
            overrides.append("eval.baselines=[]")
        m = _run(recipe, overrides)
        v, model = m["vllm"], m["model"]
        if baseline is None:
            baseline = {name: _speedup(v[name], v["none"], "foreign") for name in ("ngram", "suffix", "suffix_nocache")}
        point = {
            "size": size,
            "temperature": temperature,
            "tokens": m["counts"]["train_completion_tokens"],  # of the kept generations
            "tau_heldout": _accept(v["drafter"], "heldout"),
            "tau_foreign": _accept(v["drafter"], "foreign"),
            "speedup_foreign": _speedup(v["drafter"], v["none"], "foreign"),
            "minutes": m["wall_s"] / 60,
        }
        points.append(point)
        line = (
            f"specdec-scale: tokens={point['tokens']} tau_heldout={point['tau_heldout']:.2f} "
            f"tau_foreign={point['tau_foreign']:.2f} speedup_foreign={point['speedup_foreign']:.2f} "
            f"ngram_foreign={baseline['ngram']:.2f} suffix_foreign={baseline['suffix']:.2f} "
            f"minutes={point['minutes']:.1f}" + (f" temperature={temperature:g}" if temperature else "")
        )
        lines.append(line)
        print(line, flush=True)
    assert baseline is not None
    greedy = sorted((p for p in points if not p["temperature"]), key=lambda p: p["tokens"])
    fit = _fit(greedy, baseline["suffix"])
    if fit:
        lines.append(fit)
        print(fit, flush=True)
    _plot(greedy, baseline, OUT / "scaling.png")
    # a run's `eval.scaling_curve`: its report says where it sits on this curve
    curve = {"model": model, "points": points, "baselines_foreign": baseline}
    (OUT / "points.json").write_text(json.dumps(curve, indent=2))
    print("\n" + "\n".join(lines))
    return lines


def _fit(points: list[dict], suffix: float) -> str | None:
    """Least squares of speedup on log(tokens); where it reaches suffix decoding's speedup."""
    if len(points) < 2:
        return None
    xs, ys = [math.log(p["tokens"]) for p in points], [p["speedup_foreign"] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    reach = math.exp(mx + (suffix - my) / slope) if slope > 0 else float("inf")
    return (
        f"specdec-scale-fit: speedup_foreign = {my - slope * mx:.3f} + {slope:.3f} * ln(tokens); "
        f"reaches suffix_foreign={suffix:.2f} at tokens~{reach:.3g} (extrapolated)"
    )


def _plot(points: list[dict], baseline: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    tokens = [p["tokens"] for p in points]
    left.plot(tokens, [p["tau_heldout"] for p in points], "o-", label="held-out")
    left.plot(tokens, [p["tau_foreign"] for p in points], "s-", label="foreign")
    left.set(xscale="log", xlabel="training tokens", ylabel="mean acceptance length (vLLM, batch 1)")
    left.legend()
    right.plot(tokens, [p["speedup_foreign"] for p in points], "o-", label="drafter")
    for name, style in (("ngram", ":"), ("suffix", "--"), ("suffix_nocache", "-.")):
        right.axhline(baseline[name], linestyle=style, color="gray", label=name)
    right.set(xscale="log", xlabel="training tokens", ylabel="speedup on the foreign set (batch 1)")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
