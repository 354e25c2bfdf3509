"""The report of a speculator run: `report.md` (also printed at the end) and its plots."""

from __future__ import annotations


from arctic_ray.core.run_dir import JobRun
from arctic_ray.methods.spec_decode.plots import plot_acceptance, plot_throughput, plot_training


def write_plots(run: JobRun, m: dict) -> dict[str, str]:
    sim, vllm, train = m["simulated"], m.get("vllm") or {}, m["train"]
    plots = {"training": plot_training(train["history"], train["eval_history"], run.at("training.png"))}
    series = {"simulated, untrained": sim["untrained"]["accept_per_pos"], "simulated, trained": sim["trained"]["accept_per_pos"]}
    for name, r in vllm.items():
        if r.get("greedy"):
            series[f"vLLM {name}"] = r["greedy"]["accept_per_pos"]
        if r.get("sampled"):
            series[f"vLLM {name}, T={r['sampled']['temperature']}"] = r["sampled"]["accept_per_pos"]
    plots["acceptance"] = plot_acceptance(series, run.at("acceptance.png"))
    if vllm:
        plots["throughput"] = plot_throughput({name: r["tok_s"] for name, r in vllm.items()}, run.at("throughput.png"))
    return plots


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def _vllm_lines(vllm: dict) -> list[str]:
    lines = ["## Measured in vLLM", "", "| speculation | batch | tok/s | speedup | mean acceptance length | acceptance by position |", "|---|---|---|---|---|---|"]
    for name, r in vllm.items():
        greedy = r.get("greedy")
        for bs, rate in r["tok_s"].items():
            accept = f"{greedy['mean_acceptance_length']:.2f}" if greedy else "-"
            per_pos = _fmt(greedy["accept_per_pos"]) if greedy else "-"
            lines.append(f"| {name} | {bs} | {rate:.1f} | {r['speedup'][bs]:.2f}x | {accept} | {per_pos} |")
    lines.append("")
    drafter = vllm.get("drafter")
    if drafter:
        lines.append(f"Greedy outputs with the drafter equal the plain ones on {drafter['outputs_equal_plain']:.0%} of the prompts.")
        if drafter.get("sampled"):
            s = drafter["sampled"]
            lines.append(
                f"Sampling at T={s['temperature']}: acceptance rate {s['acceptance_rate']:.3f}, mean acceptance length "
                f"{s['mean_acceptance_length']:.2f}, by position {_fmt(s['accept_per_pos'])}."
            )
    else:
        lines.append("vLLM 0.32 does not serve this speculator type: only none and ngram were measured.")
    return lines + [""]


def render_report(m: dict) -> str:
    sim, train, c = m["simulated"], m["train"], m["counts"]
    vllm = m.get("vllm")
    head = [f"# spec_decode run: {m['model']}, {m['speculator']} drafter, teacher {m['teacher_mode']}", ""]
    if vllm and "drafter" in vllm:
        bs = min(vllm["drafter"]["tok_s"])
        d, none, ngram = vllm["drafter"], vllm["none"], vllm["ngram"]
        head.append(
            f"**vLLM at batch {bs}: drafter {d['tok_s'][bs]:.1f} tok/s vs {none['tok_s'][bs]:.1f} without speculation "
            f"({d['speedup'][bs]:.2f}x) and {ngram['tok_s'][bs]:.1f} with ngram ({ngram['speedup'][bs]:.2f}x).**"
        )
        head.append("")
    lines = head + [
        "## Simulated greedy verification (held-out prompts)",
        "",
        f"tau (tokens per base forward): {sim['untrained']['tau_sim']:.3f} untrained -> **{sim['trained']['tau_sim']:.3f} trained** "
        f"over {sim['trained']['drafts']} decode positions",
        f"acceptance by position: {_fmt(sim['untrained']['accept_per_pos'])} -> {_fmt(sim['trained']['accept_per_pos'])}",
        "",
    ]
    if vllm:
        lines += _vllm_lines(vllm)
    first_loss = train["history"][0]["loss"] if train["history"] else float("nan")
    lines += [
        "## Training",
        "",
        f"{train['steps']} steps in {train['train_seconds']:.0f} s, loss {first_loss:.3f} -> {train['final_loss']:.3f}; "
        f"the trainer waited {train['data_wait_s']:.1f} s for data",
    ]
    if "teacher" in train:
        tt = train["teacher"]
        lines.append(
            f"teacher: {tt['generated']} generated, {tt['reused']} from the store, {tt['errors']} errors; busy "
            f"{tt['busy_fraction']:.0%} of its working span ({tt['busy_s']:.0f} s generating); at most {tt['max_ahead']} rows "
            f"ahead of the trainer (bound {tt['max_ahead_rows']}, {tt['overruns']} overruns)"
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
