"""The report of a preference run: what became of every sample, the margin histogram, chosen
against rejected length (the length bias people worry about), and the second judge's agreement."""

from __future__ import annotations

from arctic_ray.core.figures import plt, save
from arctic_ray.core.run_dir import JobRun


def write_plots(run: JobRun, stats: list[dict]) -> dict[str, str]:
    if not stats:
        return {}
    fig, (margin_ax, length_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    margin_ax.hist([s["margin"] for s in stats], bins=30, color="#3b7dd8")
    margin_ax.set(title="pair margin (judge's score units)", xlabel="chosen - rejected", ylabel="pairs")
    chosen, rejected = [s["chosen_chars"] for s in stats], [s["rejected_chars"] for s in stats]
    length_ax.scatter(rejected, chosen, s=8, alpha=0.6)
    top = max(chosen + rejected + [1])
    length_ax.plot([0, top], [0, top], color="black", linestyle="--", linewidth=1)
    length_ax.set(title="answer length (characters)", xlabel="rejected", ylabel="chosen")
    return {"pairs": save(fig, run.at("pairs.png"))}


def render_report(m: dict) -> str:
    o = m["outcomes"]
    lines = [
        f"# preference run: {m['model']}, judged by {m['judge']}",
        "",
        f"**{m['pairs_count']} pairs** from {m['prompts']} prompts x samples ({m['samples_asked']} answers asked); "
        f"{m['near_identical_pairs']} near-identical and {m['duplicate_pairs']} duplicate pairs dropped.",
        "",
        "| outcome | samples |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in o.items()),
        f"| **total** | **{sum(o.values())}** (= answers asked) |",
        "",
    ]
    if m["plots"]:
        lines += ["![pairs](pairs.png)", ""]
    if m.get("agreement"):
        a = m["agreement"]
        lines += [
            f"Second judge ({a['second_judge']}) agrees on {a['agree']} of {a['pairs']} pairs ({a['rate']:.1%}).",
            "",
        ]
    for stage, counts in m.get("backend_counts", {}).items():
        if any(counts.values()):
            said = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items())
            lines += [f"Backend of the {stage.replace('_', ' ')} stage: {said}.", ""]
    lines += [
        f"Pairs (TRL's conversational format): `pairs.jsonl`, `pairs/` (parquet) in `{m['run_dir']}`.",
        "Samples set aside with their reasons: `rejects.jsonl`.",
        "Stage seconds: " + ", ".join(f"{k} {v}" for k, v in m["timings_s"].items()) + f"; total {m['wall_s']} s",
    ]
    return "\n".join(lines) + "\n"
