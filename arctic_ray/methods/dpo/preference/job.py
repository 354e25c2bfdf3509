"""The preference job: prompts -> n sampled answers each from any synthesis backend (kept in the
generation store) -> one judge (reward model, pairwise LLM, or verifier) -> pairs (`pairs.py`) ->
pairs whose chosen and rejected are near-identical dropped, duplicate pairs across prompts dropped
-> `pairs.jsonl` and `pairs/` in TRL's conversational format (`prompt`, `chosen`, `rejected` as
message lists, plus `judge`, `scores`, `margin`). Every sample ends in exactly one outcome, and the
job checks that the outcomes add up to the samples asked for."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from itertools import combinations

import pyarrow as pa
import ray.data

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.tables import TableWriter
from arctic_ray.curate.judges.verifier import verify_rows
from arctic_ray.curate.rejects import REASON
from arctic_ray.data.prompts import read_prompts
from arctic_ray.data.shuffle import shuffle_strategy
from arctic_ray.data.sources import read_source
from arctic_ray.methods.dpo.preference.pair_filters import near_identical, without_duplicates
from arctic_ray.methods.dpo.preference.pairs import (
    OUTCOMES,
    by_score,
    by_verdict,
    by_wins,
    grouped,
    pair_row,
    prompt_rng,
)
from arctic_ray.methods.dpo.preference.recipe import PreferenceRecipe
from arctic_ray.methods.dpo.preference.report import render_report, write_plots
from arctic_ray.synth.backend import target_for
from arctic_ray.synth.synthesize import synthesize


def _prompt_rows(recipe: PreferenceRecipe, run: JobRun) -> list[dict]:
    """The usable prompts (rejects set aside), with their reference answer for a verifier."""
    prompts = read_prompts(recipe.input.prompts, recipe.input.limit)
    run.set_aside(prompts.rejects)
    field = getattr(recipe.judge, "answer_field", None) or getattr(recipe.second_judge, "answer_field", None)
    if not field:
        return prompts.rows
    answers = {
        str(src.row["id"]): src.row.get(field)
        for src in read_source(recipe.input.prompts)
        if isinstance(src.row, dict) and "id" in src.row
    }
    return [{**row, field: str(answers.get(row["id"]) or "")} for row in prompts.rows]


def _judged(recipe: PreferenceRecipe, ok: ray.data.Dataset) -> ray.data.Dataset:
    """Pairs and sample outcomes (`GROUPED_SCHEMA`) from the answers that were generated."""
    judge = recipe.judge
    build_row = partial(_build, recipe=recipe)
    if judge.type == "reward_model":
        scored = judge.score(ok).map_batches(_reason_column, batch_format="pyarrow")
        return scored.groupby("source_id").map_groups(grouped(build_row), batch_format="pyarrow")
    if judge.type == "verifier":
        verified = verify_rows(ok, judge).rows
        return verified.groupby("source_id").map_groups(grouped(build_row), batch_format="pyarrow")
    comparisons = ok.groupby("source_id").map_groups(_comparison_rows, batch_format="pyarrow")
    step = judge.model_copy(update={"keep_ties": True, "a_field": "completion_a", "b_field": "completion_b"})
    result = step.apply(comparisons)
    decided = result.kept.select_columns(
        ["source_id", "a_id", "b_id", "preferred", "completion_a", "completion_b", "messages"]
    )
    failed = result.rejects.select_columns(["source_id", "a_id", "b_id", "completion_a", "completion_b", "messages"])
    everything = decided.union(failed.map_batches(_no_verdict, batch_format="pyarrow"))
    return everything.groupby("source_id").map_groups(
        grouped(partial(_build_wins, recipe=recipe)), batch_format="pyarrow"
    )


def _reason_column(batch: pa.Table) -> pa.Table:
    """The judge's unscorable mark as a plain `reason` column."""
    reason = batch[REASON] if REASON in batch.column_names else pa.array([""] * batch.num_rows, pa.string())
    return batch.append_column("reason", reason)


def _build(prompt_id: str, samples: list[dict], recipe: PreferenceRecipe):
    rng = prompt_rng(recipe.seed, prompt_id)
    judge = recipe.judge
    if judge.type == "reward_model":
        picked, outcomes = by_score(samples, judge.score_field, recipe.min_margin, rng)
        scores = {s["id"]: s.get(judge.score_field) for s in samples}
    else:
        picked, outcomes = by_verdict(samples, rng)
        scores = {s["id"]: s.get("verdict") for s in samples}
    messages = samples[0]["messages"]
    return (pair_row(prompt_id, messages, picked, judge.type, scores) if picked else None), outcomes


def _comparison_rows(group: pa.Table) -> pa.Table:
    """Every unordered pair of one prompt's answers, to be asked in both orders."""
    samples = group.to_pylist()
    rows = [
        {
            "id": f"{a['id']}|{b['id']}",
            "source_id": a["source_id"],
            "messages": a["messages"],
            "completion_a": a["completion"],
            "completion_b": b["completion"],
            "a_id": a["id"],
            "b_id": b["id"],
        }
        for a, b in combinations(samples, 2)
    ]
    if not rows:  # one answer alone: nothing to compare, still accounted for
        s = samples[0]
        rows = [
            {
                "id": s["id"],
                "source_id": s["source_id"],
                "messages": s["messages"],
                "completion_a": s["completion"],
                "completion_b": s["completion"],
                "a_id": s["id"],
                "b_id": s["id"],
            }
        ]
    return pa.Table.from_pylist(rows)


def _no_verdict(batch: pa.Table) -> pa.Table:
    return batch.append_column("preferred", pa.array([None] * batch.num_rows, pa.string()))


def _build_wins(prompt_id: str, comparisons: list[dict], recipe: PreferenceRecipe):
    samples = {}
    for c in comparisons:
        samples[c["a_id"]] = {"id": c["a_id"], "completion": c["completion_a"], "error": ""}
        samples[c["b_id"]] = {"id": c["b_id"], "completion": c["completion_b"], "error": ""}
    picked, outcomes = by_wins(list(samples.values()), comparisons, prompt_rng(recipe.seed, prompt_id))
    wins = {c["a_id"] + " vs " + c["b_id"]: c.get("preferred") for c in comparisons}
    pair = pair_row(prompt_id, comparisons[0]["messages"], picked, "pairwise", wins) if picked else None
    return pair, outcomes


def _trl_rows(batch: pa.Table) -> pa.Table:
    rows = [
        {
            "id": r["id"],
            "prompt": json.loads(r["prompt"]),
            "chosen": [{"role": "assistant", "content": r["chosen"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"]}],
            "judge": r["judge"],
            "scores": r["scores"],
            "margin": r["margin"],
            "chosen_id": r["chosen_id"],
            "rejected_id": r["rejected_id"],
        }
        for r in batch.to_pylist()
    ]
    return pa.Table.from_pylist(rows)


def _lengths(batch: pa.Table) -> pa.Table:
    """A pair's margin and its answers' lengths in characters (the length bias people watch)."""
    chars = {side: [len(m[0]["content"]) for m in batch[side].to_pylist()] for side in ("chosen", "rejected")}
    return pa.table({"margin": batch["margin"], "chosen_chars": chars["chosen"], "rejected_chars": chars["rejected"]})


@job("preference", PreferenceRecipe)
def run_preference(recipe: PreferenceRecipe, run_dir: str | None = None) -> dict:
    run = JobRun(recipe, run_dir)
    rows = _prompt_rows(recipe, run)
    init_ray(recipe.ray)
    target = target_for(recipe.model, recipe.synth, recipe.store, run.dir)
    with run.stage("generate", f"{recipe.samples} answers a prompt with {recipe.synth.backend} ({recipe.model})"):
        result = synthesize(rows, recipe.synth, target, samples=recipe.samples)
        run.set_aside({"stage": "generate", "id": r["id"], "reason": r["reason"]} for r in result.refused)
        if result.generation is None:
            raise ArcticRayError("no usable prompts to sample answers for")
        samples = result.generation.rows.materialize()
    asked = len(rows) * recipe.samples - len(result.refused) * recipe.samples
    failed = samples.filter(lambda r: bool(r.get("error")))
    ok = samples.filter(lambda r: not r.get("error")).materialize()
    with run.stage("judge", f"judge with {recipe.judge.type} and build pairs"), shuffle_strategy(ok, "sort"):
        judged = _judged(recipe, ok).materialize()  # (groups of one prompt: the sort shuffle starts fast)
    pairs = judged.filter(lambda r: r["kind"] == "pair")
    outcomes = Counter({o: 0 for o in OUTCOMES})
    accounting = TableWriter(run.loc, "samples")  # every sample's outcome, streamed through
    set_aside = []
    for r in failed.select_columns(["id", "source_id", "error"]).iter_rows():
        accounting.add({"id": r["id"], "source_id": r["source_id"], "outcome": "failed", "reason": r["error"]})
        set_aside.append({"stage": "generate", "id": r["id"], "reason": r["error"]})
        outcomes["failed"] += 1
    sample_rows = judged.filter(lambda r: r["kind"] == "sample").select_columns(
        ["id", "source_id", "outcome", "reason"]
    )
    for r in sample_rows.iter_rows():
        accounting.add(r)
        outcomes[r["outcome"]] += 1
        if r["outcome"] == "failed":
            set_aside.append({"stage": "judge", "id": r["id"], "reason": r["reason"]})
    accounting.close()
    run.set_aside(set_aside)
    with run.stage("filter", "drop near-identical pairs and duplicate pairs across prompts"):
        marked = pairs.map_batches(partial(near_identical, threshold=recipe.near_identical), batch_format="pyarrow")
        marked = marked.materialize()
        near = marked.filter(lambda r: r["near_identical"]).count()
        kept = marked.filter(lambda r: not r["near_identical"])
        with shuffle_strategy(kept, "sort"):
            deduped = without_duplicates(kept)
        duplicates = kept.count() - deduped.count()
    for name, n in (("near_identical", near), ("duplicate_pair", duplicates)):
        outcomes["chosen"] -= n
        outcomes["rejected"] -= n
        outcomes[name] += 2 * n
    total = sum(outcomes.values())
    if total != asked:
        raise ArcticRayError(
            f"preference accounting: {total} sample outcomes for {asked} samples asked ({dict(outcomes)})"
        )
    out = deduped.map_batches(_trl_rows, batch_format="pyarrow").materialize()
    table = TableWriter(run.loc, "pairs")  # pairs.jsonl for people, pairs/ (parquet) for the DPO job
    for row in out.iter_rows():  # streamed through, never held whole
        table.add(row)
    table.close()
    n_pairs = table.rows
    stats = out.map_batches(_lengths, batch_format="pyarrow").take_all()  # three numbers a pair, for the plots
    metrics = {
        "model": recipe.model,
        "judge": recipe.judge.type,
        "prompts": len(rows),
        "samples_asked": asked,
        "outcomes": dict(outcomes),
        "pairs": run.at("pairs").uri,
        "pairs_count": n_pairs,
        "near_identical_pairs": near,
        "duplicate_pairs": duplicates,
    }
    if recipe.second_judge is not None and n_pairs:
        metrics["agreement"] = _agreement(recipe, out)
    # the backends' own counts (a vLLM pool's engine restarts, retried batches, rows that killed it)
    metrics["backend_counts"] = {"generate": recipe.synth.report(target), "judge": recipe.judge.backend_counts()}
    if recipe.second_judge is not None:
        metrics["backend_counts"]["second_judge"] = recipe.second_judge.backend_counts()
    metrics["plots"] = write_plots(run, stats)
    return run.finish(metrics, render_report)


def _agreement(recipe: PreferenceRecipe, pairs: ray.data.Dataset) -> dict:
    """How often a second judge (a reward model) ranks a kept pair's chosen above its rejected."""
    second = recipe.second_judge
    assert second is not None  # asked only when there is one

    def sides(row: dict) -> list[dict]:
        return [
            {
                "id": f"{row['id']}|{side}",
                "pair": row["id"],
                "side": side,
                "messages": row["prompt"],
                "completion": row[side][0]["content"],
            }
            for side in ("chosen", "rejected")
        ]

    scored = second.score(pairs.flat_map(sides)).select_columns(["pair", "side", second.score_field])

    def verdict(group: pa.Table) -> pa.Table:
        by_side = dict(zip(group["side"].to_pylist(), group[second.score_field].to_pylist(), strict=True))
        judged = by_side.get("chosen") is not None and by_side.get("rejected") is not None
        agree = judged and by_side["chosen"] > by_side["rejected"]
        return pa.table({"judged": [int(judged)], "agree": [int(agree)]})

    per_pair = scored.groupby("pair").map_groups(verdict, batch_format="pyarrow")
    judged, agree = int(per_pair.sum("judged") or 0), int(per_pair.sum("agree") or 0)
    return {"second_judge": second.type, "pairs": judged, "agree": agree, "rate": agree / max(judged, 1)}
