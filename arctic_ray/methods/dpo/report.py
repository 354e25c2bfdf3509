"""The report of a DPO run: `report.md` with the reference stage, the data counts, the held-out
metrics before and after, the held-out check when it ran, and PNG plots (loss, rewards and
accuracy on the training steps and the held-out pairs)."""

from __future__ import annotations

from arctic_ray.core.figures import plt, save
from arctic_ray.core.run_dir import JobRun
from arctic_ray.train.sequence_parallel import describe


def plot_training(train: dict, path) -> str:
    history, evals = train["history"], train["eval_history"]
    fig, (loss_ax, reward_ax, acc_ax) = plt.subplots(1, 3, figsize=(13, 3.8))
    steps = [h["step"] for h in history]
    loss_ax.plot(steps, [h.get("dpo_loss", h["loss"]) for h in history], label="train")
    reward_ax.plot(steps, [h.get("rewards/chosen", 0.0) for h in history], label="chosen (train)")
    reward_ax.plot(steps, [h.get("rewards/rejected", 0.0) for h in history], label="rejected (train)")
    reward_ax.plot(steps, [h.get("rewards/margins", 0.0) for h in history], label="margin (train)")
    acc_ax.plot(steps, [h.get("rewards/accuracies", 0.0) for h in history], label="train")
    if evals:
        eval_steps = [e["step"] for e in evals]
        loss_ax.plot(eval_steps, [e.get("eval_dpo_loss") for e in evals], marker="o", label="held-out")
        reward_ax.plot(
            eval_steps, [e.get("eval_rewards/margins") for e in evals], marker="o", label="margin (held-out)"
        )
        acc_ax.plot(eval_steps, [e.get("eval_rewards/accuracies") for e in evals], marker="o", label="held-out")
    loss_ax.set(title="DPO loss", xlabel="step")
    reward_ax.set(title="implicit rewards: beta * (log pi - log ref)", xlabel="step")
    acc_ax.set(title="reward accuracy (chosen > rejected)", xlabel="step", ylim=(0, 1.05))
    for ax in (loss_ax, reward_ax, acc_ax):
        ax.legend(fontsize=8)
    return save(fig, path)


def plot_check(check: dict, path) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    names = ["before", "after"]
    values = [check[n]["accuracy"] for n in names]
    errors = [
        [v - check[n]["wilson_95"][0] for n, v in zip(names, values, strict=True)],
        [check[n]["wilson_95"][1] - v for n, v in zip(names, values, strict=True)],
    ]
    ax.bar(names, values, yerr=errors, capsize=6, color=["#999999", "#3b7dd8"])
    if check.get("pass_at_n") is not None:
        ax.axhline(check["pass_at_n"], color="black", linestyle="--", label=f"pass@{check['n']} before (sampled)")
        ax.legend(fontsize=8)
    ax.set(title=f"greedy verified accuracy on {check['prompts']} held-out prompts", ylim=(0, 1))
    return save(fig, path)


def write_plots(run: JobRun, metrics: dict) -> dict[str, str]:
    plots = {"training": plot_training(metrics["train"], run.at("training.png"))}
    if metrics.get("check"):
        plots["check"] = plot_check(metrics["check"], run.at("check.png"))
    return plots


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_report(m: dict) -> str:
    t, d, ref = m["train"], m["data"], m["reference"]
    first, last = (t["eval_history"][0], t["eval_history"][-1]) if t["eval_history"] else ({}, {})
    lines = [
        f"# dpo run: {m['model']}",
        "",
        f"{t['steps']} steps in {t['train_seconds']:.0f} s; each worker held {t['parameters_held_per_worker']:,} "
        f"parameters (reference: {ref['mode']}).",
        "",
        "![training](training.png)",
        "",
        "## Held-out pairs, before and after",
        "",
        "| metric | before | after |",
        "|---|---|---|",
    ]
    for key in sorted(k for k in last if k.startswith("eval_") and k != "eval_pairs"):
        lines.append(f"| {key.removeprefix('eval_')} | {_fmt(first.get(key))} | {_fmt(last.get(key))} |")
    lines += [
        "",
        f"On {last.get('eval_pairs', 0)} held-out pairs.",
        "",
        "## Data",
        "",
        f"Pairs read: {d['pairs']}. Tokenizing: {d['tokenize']}. Packed rows: {d['sequences']}.",
        f"Rows: {describe(d['sequence_layout'])}." if "sequence_layout" in d else "",
    ]
    for name in ("train", "eval"):
        if isinstance(ref.get(name), dict):
            r = ref[name]
            lines.append(
                f"Reference log-probs ({name}): {'reused from' if r['reused'] else 'computed into'} `{r['where']}`."
            )
    if m.get("check"):
        c = m["check"]
        lines += [
            "",
            "## Does it help? Greedy verified accuracy on held-out prompts",
            "",
            "![check](check.png)",
            "",
            "| | accuracy | Wilson 95% |",
            "|---|---|---|",
            *(
                f"| {n} | {c[n]['accuracy']:.3f} ({c[n]['correct']}/{c['prompts']}) | "
                f"[{c[n]['wilson_95'][0]:.3f}, {c[n]['wilson_95'][1]:.3f}] |"
                for n in ("before", "after")
            ),
            "",
            f"McNemar (exact, two-sided) on the paired outcomes: {c['mcnemar']['only_before']} right only before, "
            f"{c['mcnemar']['only_after']} right only after, p = {c['mcnemar']['p_value']:.4g}."
            + (f" The starting model's pass@{c['n']} (sampled): {c['pass_at_n']:.3f}." if c.get("pass_at_n") else ""),
        ]
    lines += [
        "",
        f"Model (Hugging Face format, tokenizer and chat template included): `{m['export_dir']}`",
        f"Rejected pairs with their reasons: `rejects.jsonl` ({m['counts'].get('rejected', 0)} read, "
        f"{m['counts'].get('dropped', 0)} dropped in tokenizing).",
        "Stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
    ]
    return "\n".join(lines) + "\n"
