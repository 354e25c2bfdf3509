"""The report of a speculator run: `report.md` (also printed at the end) and its plots."""

from __future__ import annotations

from arctic_ray.core.run_dir import JobRun
from arctic_ray.methods.spec_decode.plots import plot_acceptance, plot_throughput, plot_training
from arctic_ray.methods.spec_decode.scaling_position import position_sentence
from arctic_ray.methods.spec_decode.serving import SERVING_KEY

BASELINE_NAMES = {
    "ngram": "ngram",
    "suffix": "suffix decoding (cache on, warmed)",
    "suffix_nocache": "suffix decoding (cache off)",
}
EVAL_SETS = {"heldout": "held-out training-style prompts", "foreign": "foreign prompts (other styles)"}
# As read in arctic_inference 0.3.0 (vllm/config.py, vllm/model_runner.py; its plugin targets vLLM
# 0.26): suffix decoding combines only with its methods `arctic` / `mlp_speculator`.
COMBINED = (
    "vLLM 0.32 cannot combine a drafter with suffix decoding; Arctic Inference's own vLLM plugin can, for its own "
    'MLP/LSTM speculators only (`"method": "arctic"` with `"enable_suffix_decoding": true`), not for EAGLE-3.'
)


def _teacher_features(teacher: dict) -> str:
    rows = teacher.get("feature_rows")
    if not rows or not sum(rows.values()):
        return ""
    return (
        f"; its current process captured the target's states of {rows['one_pass']} training rows while "
        f"generating them and prefilled {rows['prefill']} ({teacher['prefill_s']:.0f} s; answers it did not generate)"
    )


def _measured(vllm: dict) -> dict:
    return {name: r for name, r in vllm.items() if "error" not in r}


def label(name: str, r: dict) -> str:
    """A drafter case by its k; the others by name."""
    spec = r.get("speculative_config") or {}
    return f"drafter k={spec['num_speculative_tokens']}" if spec.get("model") else name


def write_plots(run: JobRun, m: dict) -> dict[str, str]:
    sim, vllm, train = m["simulated"], m.get("vllm") or {}, m["train"]
    plots = {"training": plot_training(train["history"], train["eval_history"], run.at("training.png"))}
    series = {
        "simulated, untrained": sim["untrained"]["accept_per_pos"],
        "simulated, trained": sim["trained"]["accept_per_pos"],
    }
    for name, r in _measured(vllm).items():
        smaller_k = name != "drafter" and (r.get("speculative_config") or {}).get("model")
        if r.get("greedy") and not smaller_k:  # a smaller k's acceptance repeats the drafter's first positions
            series[f"vLLM {label(name, r)}"] = r["greedy"]["accept_per_pos"]
        if r.get("sampled"):
            series[f"vLLM {label(name, r)}, T={r['sampled']['temperature']}"] = r["sampled"]["accept_per_pos"]
    plots["acceptance"] = plot_acceptance(series, run.at("acceptance.png"))
    if _measured(vllm):
        for key, part in (("throughput", None), ("throughput_foreign", "foreign")):
            rates = {label(name, r): _part(r, part)["tok_s"] for name, r in _measured(vllm).items() if _part(r, part)}
            if rates:
                plots[key] = plot_throughput(rates, run.at(f"{key}.png"))
    return plots


def _part(r: dict, eval_set: str | None) -> dict:
    """A case's figures on an eval set: the held-out ones at its top, the others under their name."""
    return r if eval_set is None else r.get(eval_set, {})


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def _speedup(r: dict, bs) -> str:
    return f"{r['speedup'][bs]:.2f}x" if "speedup" in r else "-"


def _vllm_lines(vllm: dict) -> list[str]:
    lines = ["## Measured in vLLM", ""]
    for eval_set, part in (("heldout", None), ("foreign", "foreign")):
        measured = {name: _part(r, part) for name, r in _measured(vllm).items() if _part(r, part)}
        if not measured:
            continue
        lines += [
            f"{EVAL_SETS[eval_set]}:",
            "",
            "| speculation | batch | tok/s | speedup | mean acceptance length | acceptance by position |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in measured.items():
            greedy = r.get("greedy")
            for bs, rate in r["tok_s"].items():
                accept = f"{greedy['mean_acceptance_length']:.2f}" if greedy else "-"
                per_pos = _fmt(greedy["accept_per_pos"]) if greedy else "-"
                lines.append(
                    f"| {label(name, vllm[name])} | {bs} | {rate:.1f} | {_speedup(r, bs)} | {accept} | {per_pos} |"
                )
        lines.append("")
    lines += [f"{name}: the engine failed, not measured ({r['error']})." for name, r in vllm.items() if "error" in r]
    drafter = _measured(vllm).get("drafter")
    if drafter:
        lines.append(
            f"Greedy outputs with the drafter equal the plain ones on {drafter['outputs_equal_plain']:.0%} "
            "of the prompts."
        )
        if drafter.get("sampled"):
            s = drafter["sampled"]
            lines.append(
                f"Sampling at T={s['temperature']}: acceptance rate {s['acceptance_rate']:.3f}, mean acceptance length "
                f"{s['mean_acceptance_length']:.2f}, by position {_fmt(s['accept_per_pos'])}."
            )
    else:
        lines.append("vLLM 0.32 does not serve this speculator type (or its engine failed): no drafter was measured.")
    return lines + [""]


def _serving_lines(serving: dict) -> list[str]:
    """The drafter's tok/s by k and batch size; the best k of each batch size (bold) is what the
    export's config.json records for serving."""
    batch_sizes, best = list(serving["tok_s"]), serving["best_num_speculative_tokens"]
    ks = sorted({int(k) for rates in serving["tok_s"].values() for k in rates})
    speedup = serving.get("speedup_vs_none", {})
    lines = [
        "## Number of speculative tokens k, by batch size",
        "",
        "| k | " + " | ".join(f"batch {bs}" for bs in batch_sizes) + " |",
        "|---|" + "---|" * len(batch_sizes),
    ]
    for k in ks:
        cells = []
        for bs in batch_sizes:
            rate, x = serving["tok_s"][bs].get(str(k)), speedup.get(bs, {}).get(str(k))
            cell = "-" if rate is None else f"{rate:.1f} tok/s" + (f" ({x:.2f}x)" if x is not None else "")
            cells.append(f"**{cell}**" if best[bs] == k else cell)
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    choice = ", ".join(f"batch {bs}: k={k}" for bs, k in best.items())
    return lines + [
        "",
        f"Best k (bold; in the export's config.json under `{SERVING_KEY}`): {choice}. "
        f"Measured on {serving['measured_on']}.",
        "",
    ]


def _baseline_sentence(vllm: dict, serving: dict) -> str | None:
    """When a model-free baseline beats the drafter at its best k at the smallest batch size."""
    bs = min(serving["tok_s"], key=int)  # the table's keys are strings, as in metrics.json
    measured = _measured(vllm)
    rates = {
        name: {str(b): v for b, v in measured[name]["tok_s"].items()}.get(bs)
        for name in BASELINE_NAMES
        if name in measured
    }
    rates = {name: v for name, v in rates.items() if v is not None}
    if not rates:
        return None
    name = max(rates, key=lambda n: rates[n])
    k = serving["best_num_speculative_tokens"][bs]
    drafter = serving["tok_s"][bs][str(k)]
    if rates[name] <= drafter:
        return None
    sentence = (
        f"Model-free {BASELINE_NAMES[name]} is faster than the drafter here: {rates[name]:.1f} tok/s at batch {bs} "
        f"against {drafter:.1f} with the drafter at its best k ({k}), same prompts and engine settings."
    )
    return sentence + (" " + COMBINED if name.startswith("suffix") else "")


def _headline(measured: dict, part: str | None, what: str) -> str:
    d, none = _part(measured["drafter"], part), _part(measured["none"], part)
    bs = min(d["tok_s"])
    others = "".join(
        f", {_part(measured[name], part)['tok_s'][bs]:.1f} with {BASELINE_NAMES[name]} "
        f"({_part(measured[name], part)['speedup'][bs]:.2f}x)"
        for name in BASELINE_NAMES
        if name in measured and _part(measured[name], part)
    )
    return (
        f"**vLLM at batch {bs}, {what}: drafter {d['tok_s'][bs]:.1f} tok/s vs {none['tok_s'][bs]:.1f} without "
        f"speculation ({d['speedup'][bs]:.2f}x){others}.**"
    )


def render_report(m: dict) -> str:
    sim, train, c = m["simulated"], m["train"], m["counts"]
    vllm = m.get("vllm")
    head = [f"# spec_decode run: {m['model']}, {m['speculator']} drafter, teacher {m['teacher_mode']}", ""]
    measured = _measured(vllm or {})
    if "drafter" in measured and "none" in measured:
        for eval_set, part in (("heldout", None), ("foreign", "foreign")):
            if _part(measured["drafter"], part):
                head += [_headline(measured, part, EVAL_SETS[eval_set]), ""]
    if m.get("scaling_position"):
        head += [position_sentence(m["scaling_position"]), ""]
    lines = head + [
        "## Simulated greedy verification (held-out prompts)",
        "",
        f"tau (tokens per base forward): {sim['untrained']['tau_sim']:.3f} untrained -> "
        f"**{sim['trained']['tau_sim']:.3f} trained** over {sim['trained']['drafts']} decode positions",
        f"acceptance by position: {_fmt(sim['untrained']['accept_per_pos'])} -> "
        f"{_fmt(sim['trained']['accept_per_pos'])}",
        "",
    ]
    if vllm:
        lines += _vllm_lines(vllm)
    if m.get("serving"):
        lines += _serving_lines(m["serving"])
        sentence = _baseline_sentence(vllm or {}, m["serving"])
        lines += [sentence, ""] if sentence else []
    first_loss = train["history"][0]["loss"] if train["history"] else float("nan")
    lines += [
        "## Training",
        "",
        f"{train['steps']} steps in {train['train_seconds']:.0f} s, loss {first_loss:.3f} -> "
        f"{train['final_loss']:.3f}; the trainer waited {train['data_wait_s']:.1f} s for data",
        "",
        f"Each training worker held {train['target_params_held']:,} of the target's "
        f"{train['target_params_total']:,} parameters ({train['target_features']} features) beside the "
        f"drafter's {train['drafter_params']:,}; peak memory {train['peak_rss_mb']} MiB.",
    ]
    if "teacher" in train:
        tt = train["teacher"]
        lines.append(
            f"teacher: {tt['generated']} generated, {tt['reused']} from the store, {tt['errors']} errors; busy "
            f"{tt['busy_fraction']:.0%} of its working span ({tt['busy_s']:.0f} s generating); at most "
            f"{tt['max_ahead']} rows ahead of the trainer (bound {tt['max_ahead_rows']}, {tt['overruns']} overruns)"
            + (
                f"; its process died and was started again {tt['teacher_restarts']} time(s), "
                f"{tt['reasked_rows']} rows in flight asked again"
                if tt.get("teacher_restarts")
                else ""
            )
            + _teacher_features(tt)
        )
    lines += [
        "",
        "## Rows",
        "",
        ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()),
        "",
        "stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
        "",
        "## Plots",
        "",
        *(f"![{name}]({file})" for name, file in m["plots"].items()),
        "",
        f"run directory: {m['run_dir']}",
        f"drafter: {m['drafter_dir']}",
        "",
    ]
    return "\n".join(lines)
