"""PNG plots of a speculator run, written into the run directory and linked from report.md."""

from __future__ import annotations

from arctic_ray.core.figures import plt, save
from arctic_ray.core.storage import Location


def plot_training(history: list[dict], eval_history: list[dict], path: Location) -> str:
    """Loss per draft position over steps, and the simulated tau on held-out prompts."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = [h["step"] for h in history]
    positions = sorted(k for k in (history[0] if history else {}) if k.startswith("loss_pos"))
    for key in positions:
        left.plot(steps, [h[key] for h in history], label=f"position {key.removeprefix('loss_pos')}")
    left.set(title="training loss per draft position", xlabel="step", ylabel="loss")
    left.legend()
    right.plot([e["step"] for e in eval_history], [e["tau_sim"] for e in eval_history], marker="o")
    right.set(title="simulated tau on held-out prompts", xlabel="step", ylabel="tokens per base forward")
    return save(fig, path)


def plot_acceptance(series: dict[str, list[float]], path: Location) -> str:
    """Acceptance by draft position: share of drafts whose first j+1 tokens were accepted."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, values in series.items():
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xticks(range(1, 1 + max((len(v) for v in series.values()), default=1)))
    ax.set(
        title="acceptance by draft position", xlabel="draft position", ylabel="accepted share of drafts", ylim=(0, 1)
    )
    ax.legend()
    return save(fig, path)


def plot_throughput(tok_s: dict[str, dict[int, float]], path: Location) -> str:
    """Output tokens/s per configuration (none, the baselines, the drafter at each k) and batch
    size, measured in vLLM."""
    names = list(tok_s)
    batch_sizes = sorted({bs for v in tok_s.values() for bs in v})
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [j + i * width for j in range(len(batch_sizes))]
        bars = ax.bar(xs, [tok_s[name].get(bs, 0) for bs in batch_sizes], width, label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(
        [j + width * (len(names) - 1) / 2 for j in range(len(batch_sizes))], [f"batch {bs}" for bs in batch_sizes]
    )
    ax.set(title="vLLM output throughput", ylabel="tokens / s")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the bars, never over them
    return save(fig, path)
