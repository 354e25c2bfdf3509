"""The short human-readable report of a spec_decode run (also printed at the end)."""

from __future__ import annotations

from pathlib import Path


def write_report(path: Path, m: dict) -> None:
    c, t = m["counts"], m["train"]
    acc = lambda xs: ", ".join(f"{x:.3f}" for x in xs)  # noqa: E731
    lines = [
        f"# spec_decode run: {m['model']}",
        "",
        f"tau (tokens per base forward, greedy): {m['tau_untrained']:.3f} untrained -> **{m['tau']:.3f} trained**",
        f"per-head top-1 accuracy: [{acc(m['head_accuracy_untrained'])}] -> [{acc(m['head_accuracy'])}]",
        f"evaluated on {m['eval_sequences']} held-out generations ({m['eval_decode_steps']} decode steps); "
        f"generations on the float32 greedy path: {m['greedy_agreement']:.1%}",
        "",
        f"rows: {c['prompts_in']} prompts in, {c['prompts_rejected']} rejected, {c['generation_errors']} generation errors, "
        f"{c['duplicates_dropped']} near-duplicates dropped, {c['kept']} kept, {c['too_short_or_long']} unusable for training; "
        f"{c['train_sequences']} trained on, {c['holdout_sequences']} held out",
        f"training: {t['steps']} steps in {t['train_seconds']:.0f} s, loss {t['loss_history'][0]:.3f} -> {t['final_loss']:.3f}"
        if t["loss_history"]
        else f"training: {t['steps']} steps",
        "stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
        "",
        f"run directory: {m['run_dir']}",
        f"speculator: {m['speculator_dir']}",
        "",
    ]
    path.write_text("\n".join(lines))
