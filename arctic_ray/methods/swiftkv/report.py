"""The report of a SwiftKV run: `report.md` with the distillation's curves (train loss; held-out
KL and top-1 agreement with the teacher; eval loss beside the teacher's), the parameters frozen
and trained, and what the reloaded export's prefill did (layers run, FLOPs, cache) on held-out
prompts."""

from __future__ import annotations

from arctic_ray.core.figures import plt, save
from arctic_ray.core.storage import Location


def plot_distill(history: list[dict], eval_history: list[dict], path: Location) -> str:
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(13, 3.6))
    left.plot([h["step"] for h in history], [h["loss"] for h in history])
    left.set(title="train loss (KL at T, x T^2)", xlabel="step")
    steps = [e["step"] for e in eval_history]
    mid.plot(steps, [e["eval_kl"] for e in eval_history], marker="o", label="KL (T=1)")
    mid.set(title="held-out KL to the teacher", xlabel="step")
    twin = mid.twinx()
    twin.plot(
        steps, [e["eval_top1_agreement"] for e in eval_history], marker="s", color="tab:green", label="top-1 agreement"
    )
    twin.set_ylabel("top-1 agreement")
    right.plot(steps, [e["eval_loss"] for e in eval_history], marker="o", label="student")
    right.plot(steps, [e["teacher_eval_loss"] for e in eval_history], linestyle="--", label="teacher")
    right.set(title="held-out cross-entropy", xlabel="step")
    right.legend()
    return save(fig, path)


def render_report(m: dict) -> str:
    t, p, pre = m["train"], m["train"]["parameters"], m["prefill"]
    first, last = t["eval_history"][0], t["eval_history"][-1]
    lines = [
        f"# swiftkv run: {m['model']}",
        "",
        f"**{t['num_key_value_layers']} of {pre['layers']} layers keep their KV** "
        f"(AcrossKV group size {t['key_value_group_size']}). "
        f"Held-out KL to the teacher {first['eval_kl']:.4f} -> {last['eval_kl']:.4f}, top-1 agreement "
        f"{first['eval_top1_agreement']:.3f} -> {last['eval_top1_agreement']:.3f}, "
        f"eval loss {first['eval_loss']:.4f} -> "
        f"{last['eval_loss']:.4f} (teacher {last['teacher_eval_loss']:.4f}) "
        f"on {last['eval_tokens']} held-out completion tokens; "
        f"{t['steps']} steps in {t['train_seconds']:.0f} s.",
        "",
        "![distillation](distill.png)",
        "",
        f"Parameters: {p['trainable']:,} trained (the SwiftKV projections and norm), "
        f"{p['frozen']:,} frozen, of {p['total']:,}.",
        "",
        "## Prefill of the reloaded export",
        "",
        f"On {pre['prompts']} held-out prompts ({pre['prompt_tokens']} tokens): "
        f"the MLP of layers 0..{t['num_key_value_layers'] - 1} ran on "
        f"{pre['kv_layer_tokens']} tokens, each later layer's on {pre['later_layer_tokens']} "
        "(the last position of each prompt); "
        f"prefill FLOPs {pre['flops_ratio']:.3f} of the original model's, "
        f"KV cache {pre['kv_cache_ratio']:.3f} of its size.",
        "",
        f"Export (`model_type: llama_swiftkv`, tokenizer and chat template included): `{m['export_dir']}`",
        f"Rejected rows with their reasons: `rejects.jsonl` ({m['counts'].get('rejected', 0)}).",
        "Stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
    ]
    return "\n".join(lines) + "\n"
