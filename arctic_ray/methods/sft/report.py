"""The report of an SFT run: `report.md` and its PNG plots (loss curves; MoE load balance per
layer against its theoretical minimum)."""

from __future__ import annotations

from arctic_ray.core.figures import plt, save
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.storage import Location
from arctic_ray.train.sequence_parallel import describe


def plot_loss(history: list[dict], eval_history: list[dict], path: Location) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = [h["step"] for h in history]
    left.plot(steps, [h["loss"] for h in history], label="train (per target token)")
    evals = [e for e in eval_history if "eval_loss" in e]
    if evals:
        left.plot([e["step"] for e in evals], [e["eval_loss"] for e in evals], marker="o", label="held-out")
    left.set(title="loss", xlabel="step", ylabel="cross-entropy")
    left.legend()
    right.plot(steps, [h["lr"] for h in history])
    right.set(title="learning rate", xlabel="step")
    return save(fig, path)


def plot_balance(history: list[dict], minimum_per_layer: float, path: Location) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    steps = [h["step"] for h in history]
    layers = sorted(
        (k for k in history[0] if k.startswith("balance_loss_l")), key=lambda k: int(k.removeprefix("balance_loss_l"))
    )
    for key in layers:
        ax.plot(steps, [h[key] for h in history], label=f"MoE layer {key.removeprefix('balance_loss_l')}")
    ax.axhline(minimum_per_layer, color="black", linestyle="--", label=f"minimum (top-k = {minimum_per_layer:g})")
    ax.set(title="load-balancing loss per MoE layer", xlabel="step", ylabel="E * sum f_e P_e")
    ax.legend(fontsize=8)
    return save(fig, path)


def write_plots(run: JobRun, train: dict) -> dict[str, str]:
    plots = {"loss": plot_loss(train["history"], train["eval_history"], run.at("loss.png"))}
    moe = train.get("moe")
    if moe and train["history"]:
        plots["balance"] = plot_balance(train["history"], moe["top_k"], run.at("moe_balance.png"))
    return plots


def render_report(m: dict) -> str:
    t, c, d = m["train"], m["counts"], m["data"]
    first, last = (t["eval_history"][0], t["eval_history"][-1]) if t["eval_history"] else ({}, {})
    lines = [
        f"# sft run: {m['model']}",
        "",
        f"**eval loss {first.get('eval_loss', float('nan')):.4f} -> {last.get('eval_loss', float('nan')):.4f}** "
        f"on {last.get('eval_tokens', 0)} held-out target tokens; "
        f"train loss {t['history'][0]['loss']:.4f} -> {t['final_loss']:.4f} "
        f"in {t['steps']} steps ({t['train_seconds']:.0f} s)."
        if t["history"]
        else "no training step ran",
        "",
        "![loss](loss.png)",
        "",
        "## Data",
        "",
        "| source | rows | rejected | held out | used (after weight) | truncated | dropped (too long) "
        "| dropped (no assistant token) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in d["sources"].items():
        lines.append(
            f"| {name} | {s.get('rows', 0)} | {s.get('rejected', 0)} | {s.get('held_out', 0)} | {s.get('used', 0)} "
            f"| {s.get('truncated', 0)} "
            f"| {s.get('dropped_overlong', 0)} | {s.get('dropped_no_assistant_tokens', 0)} |"
        )
    lines += [
        "",
        f"Packing: {d['bins']} sequences of up to {d['max_length']} tokens from {d['examples']} examples, "
        f"efficiency {d['efficiency']:.3f}, padding fraction in training {t.get('padding_fraction', 0):.3f}. "
        f"Phases: {', '.join(d['phases'])}.",
        f"Parameters: {t['parameters']['trainable']:,} trainable of {t['parameters']['total']:,}.",
        f"Sequences: {describe(m['sequence_layout'])}." if "sequence_layout" in m else "",
        "",
    ]
    if t.get("moe"):
        moe = t["moe"]
        final = t["history"][-1].get("balance_loss", float("nan")) if t["history"] else float("nan")
        lines += [
            "## MoE",
            "",
            f"{moe['layers']} MoE layers, top-{moe['top_k']}: load-balancing loss {final:.3f} at the end, "
            "theoretical minimum "
            f"{moe['balance_loss_minimum']:g} (top-k x MoE layers); aux loss coefficient {moe['aux_loss_coef']:g}. "
            f"Frozen: {t['parameters']['frozen_experts']:,} expert and "
            f"{t['parameters']['frozen_router']:,} router parameters.",
            "",
            "![MoE balance](moe_balance.png)",
            "",
        ]
    lines += [
        f"Model (Hugging Face format, tokenizer and chat template included): `{m['export_dir']}`",
        f"Rejected rows with their reasons: `rejects.jsonl` ({c.get('rejected', 0)}).",
        "Stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
    ]
    return "\n".join(lines) + "\n"
