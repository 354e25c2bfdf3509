"""The main job: prompts (+ self-instruct) -> the teacher's continuations (generated first, or
live beside the trainer) -> dedup -> drafter training on a TorchTrainer with DeepSpeed ZeRO-2 ->
speculative decoding measured in vLLM -> a run directory with the export, metrics and plots.

Each stage is one call; copy this file to build another pipeline."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import ray
import ray.data

from arctic_ray.curate.minhash_dedup import dedup_against, minhash_dedup
from arctic_ray.data.prompts import read_prompts
from arctic_ray.jobs import job
from arctic_ray.jobs.spec_decode_recipe import SpecDecodeRecipe
from arctic_ray.jobs.stages import JobRun
from arctic_ray.models.resolve import resolve_model
from arctic_ray.runtime import init_ray
from arctic_ray.speculators.draft_vocab import count_tokens
from arctic_ray.speculators.identity import base_identity
from arctic_ray.speculators.report import render_report, write_plots
from arctic_ray.speculators.samples import response_generations, to_speculator_samples, training_columns
from arctic_ray.speculators.trainer import SpeculatorMethod
from arctic_ray.speculators.vllm_eval import measure_speculative_decoding, spec_cases
from arctic_ray.synth.schema import failed
from arctic_ray.synth.self_instruct import self_instruct
from arctic_ray.synth.stored import generate_stored, row_key
from arctic_ray.teacher.actor import TeacherActor
from arctic_ray.teacher.placement import pick_node
from arctic_ray.teacher.prompts import teacher_prompts
from arctic_ray.teacher.stream import teacher_stream
from arctic_ray.train.spec import Phase, TrainRun
from arctic_ray.train.torch_trainer import run_trainer
from arctic_ray.train.trainer import EXPORT_DIR


def prompt_text(row: dict) -> str:
    return "\n".join(m["content"] for m in row["messages"])


def split_eval_prompts(rows: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """The n prompts with the smallest stable hash of their id are held out, before anything is
    generated: the same ones every run, whatever the order of the file."""
    ranked = sorted(rows, key=lambda r: zlib.crc32(r["id"].encode()))
    held = {r["id"] for r in ranked[:n]}
    return [r for r in rows if r["id"] in held], [r for r in rows if r["id"] not in held]


def generation_requests(rows: list[dict], sampling: dict, repeat: int = 0) -> list[dict]:
    """Rows for a synthesis backend: each prompt's own token budget, and its sample index."""
    return [
        {
            "id": r["id"] if not repeat else f"{r['id']}#{repeat}",
            "messages": r["messages"],
            "sample": repeat,
            "sampling": {**sampling, "max_tokens": r["max_tokens"], "seed": (sampling.get("seed") or 0) + repeat},
            "prompt_token_ids": r["prompt_token_ids"],
            "max_tokens": r["max_tokens"],
        }
        for r in rows
    ]


@job("spec_decode", SpecDecodeRecipe)
def run_spec_decode(recipe: SpecDecodeRecipe, run_dir: Path | None = None) -> dict:
    from transformers import AutoTokenizer

    # Input problems surface first, before a run directory or a Ray cluster exists.
    prompts = read_prompts(recipe.data.prompts, recipe.data.limit)
    model_path = resolve_model(recipe.model)
    run = JobRun(recipe, run_dir)
    run.count(prompts_in=len(prompts.rows) + len(prompts.rejects), prompts_rejected=run.set_aside(prompts.rejects))
    init_ray(recipe.ray)
    identity = base_identity(model_path, recipe.model)
    model_key = identity["config_sha256"][:16] + identity["tokenizer_sha256"][:16]
    store = recipe.store_dir.resolve()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    t, spec, train_cfg = recipe.teacher, recipe.speculator, recipe.train
    sampling = recipe.synth.sampling.model_dump()

    def generate(rows: list[dict]):
        return generate_stored(ray.data.from_items(rows), recipe.synth, store, model_path, recipe.model, model_key)

    with run.stage("prompts", "held-out eval prompts, self-instruct, teacher prompts"):
        eval_rows, pool = split_eval_prompts(prompts.rows, recipe.eval.num_prompts)
        if recipe.self_instruct.enabled:
            new, rejects, counts = self_instruct(recipe.self_instruct, recipe.synth, store, model_path, recipe.model, model_key)
            run.set_aside(rejects)
            new, dups = dedup_against(new, prompt_text, [prompt_text(r) for r in eval_rows + pool], recipe.dedup)
            run.write_rows("self_instruct_duplicates", dups)
            run.count(self_instruct_asked=counts["asked"], self_instruct_added=len(new), self_instruct_duplicates=len(dups))
            pool += new
        ready, rejects = teacher_prompts(pool, tokenizer, t.gen_prompt_length, t.gen_seq_length)
        eval_ready, eval_rejects = teacher_prompts(eval_rows, tokenizer, t.gen_prompt_length, t.gen_seq_length)
        run.count(prompts_unusable=run.set_aside(rejects + eval_rejects), eval_prompts=len(eval_ready), train_prompts=len(ready))
        for row in eval_ready:
            row["max_tokens"] = recipe.eval.max_tokens
        print(f"[arctic_ray] {len(ready)} training prompts, {len(eval_ready)} held-out eval prompts", flush=True)

    with run.stage("eval_generate", "the base's greedy continuations of the held-out prompts"):
        eval_gen = generate(generation_requests(eval_ready, {**sampling, "temperature": 0.0})).rows.materialize()
        eval_seq = t.gen_prompt_length + recipe.eval.max_tokens
        columns, _ = training_columns([r for r in eval_gen.iter_rows() if not r["error"]], eval_seq, 1, tokenizer.pad_token_id or 0)
        eval_ds = ray.data.from_items([{k: columns[k][i] for k in columns if k != "id"} for i in range(len(columns["id"]))])

    pad_id = tokenizer.pad_token_id or 0
    datasets: dict[str, ray.data.Dataset] = {"eval": eval_ds}
    phases = [Phase("train")]
    teacher, num_rows, node_id, token_counts = None, None, None, None
    if t.mode == "offline":
        with run.stage("generate", f"generate with {recipe.synth.backend} ({recipe.model})"):
            generated = generate(generation_requests(ready, sampling))
            rows = generated.rows.materialize()
            run.count(generations_reused=generated.reused, generations_sent=generated.sent)
            run.count(generation_errors=run.write_rows("errors", rows.filter(failed)))
            ok = rows.filter(lambda r: not failed(r)).materialize()
        with run.stage("dedup", "deduplicate continuations (MinHash LSH)"):
            if recipe.dedup.enabled:
                dedup = minhash_dedup(ok, recipe.dedup)
                kept = dedup.kept.materialize()
                run.count(duplicates_dropped=run.write_rows("duplicates", dedup.duplicates))
            else:
                kept = ok
            run.count(kept=run.write_rows("generations", kept))
        with run.stage("tokenize", "training rows"):
            samples, rejects = to_speculator_samples(kept, train_cfg.seq_len, spec.n_predict, pad_id)
            samples = samples.materialize()
            num_rows = samples.count()
            run.count(too_short_or_long=run.set_aside(rejects), train_sequences=num_rows)
            if spec.uses_token_counts:
                token_counts = count_tokens(kept, "completion_token_ids", len(tokenizer))
            datasets["train"] = samples.drop_columns(["id"])
    else:
        with run.stage("teacher", "start the co-located teacher"):
            engine = recipe.synth.model_copy(update={"cpus_per_engine": t.cpus, "gpu_memory_utilization": t.gpu_memory_utilization})
            node_id = pick_node(t.cpus + train_cfg.num_workers * train_cfg.cpus_per_worker, engine.gpus_per_engine + train_cfg.num_workers * train_cfg.gpus_per_worker)
            max_ahead = max(t.max_ahead_rows, (train_cfg.num_workers + 2) * t.batch_size)
            teacher = TeacherActor.options(
                num_cpus=t.cpus, num_gpus=engine.gpus_per_engine, label_selector={"ray.io/node-id": node_id},
                runtime_env={"env_vars": engine.engine_env()},
            ).remote(model_path, recipe.model, engine, str(store), max_ahead)
            rows_needed = train_cfg.max_steps * train_cfg.num_workers * train_cfg.micro_batch_size * train_cfg.gradient_accumulation_steps
            repeats = max(1, math.ceil(1.25 * rows_needed / max(len(ready), 1)))
            stream_rows = [r for k in range(repeats) for r in generation_requests(ready, sampling, k)]
            for r in stream_rows:  # the same request key as the Ray Data stage's: answers are shared
                r["key"] = row_key(recipe.synth, r, model_key)
            if spec.uses_token_counts:  # a first sample of generations chooses the draft vocabulary
                first = ray.get(teacher.generate.remote(stream_rows[: 4 * t.batch_size]))
                ray.get(teacher.release.remote(len(first)))
                token_counts = count_tokens(ray.data.from_items([r for r in first if not r["error"]]), "completion_token_ids", len(tokenizer))

        def to_rows(rows: list[dict]):
            return training_columns(rows, train_cfg.seq_len, spec.n_predict, pad_id)

        stream = teacher_stream(ray.data.from_items(stream_rows), teacher, t.batch_size, to_rows)
        datasets["train"] = stream.drop_columns(["id"])
        run.count(stream_prompts=len(stream_rows))

    if t.data_steps and prompts.with_responses:
        with run.stage("data_responses", "the data's own responses, trained on first"):
            responses, rejects = response_generations([r for r in prompts.with_responses if r["id"] not in {e["id"] for e in eval_rows}], tokenizer)
            columns, unusable = training_columns(responses, train_cfg.seq_len, spec.n_predict, pad_id)
            run.count(data_response_rows=len(columns["id"]), data_response_rejects=run.set_aside(rejects + unusable))
            datasets["data"] = ray.data.from_items([{k: columns[k][i] for k in columns if k != "id"} for i in range(len(columns["id"]))])
            phases = [Phase("data", t.data_steps), Phase("train")]

    with run.stage("train", f"train the {spec.type} drafter ({train_cfg.num_workers} workers, DeepSpeed ZeRO-{train_cfg.zero_stage})"):
        result = run_trainer(
            TrainRun(
                trainer="speculator",
                train=train_cfg,
                method=SpeculatorMethod(model_path, spec, recipe.seed, identity, token_counts),
                datasets=datasets,
                storage_dir=run.dir,
                phases=phases,
                num_rows=num_rows,
                feeder=teacher,
                node_id=node_id,
            )
        )
        drafter_dir = str(Path(result.checkpoint.path) / EXPORT_DIR)
        train_metrics = dict(result.metrics)
        if teacher is not None:
            train_metrics["teacher"] = ray.get(teacher.stats.remote())
            run.count(teacher_set_aside=run.set_aside(ray.get(teacher.set_aside_rows.remote())))
            ray.kill(teacher)

    vllm = None
    if recipe.eval.vllm:
        with run.stage("vllm_eval", "speculative decoding in vLLM: none / ngram / drafter"):
            cases = spec_cases(drafter_dir, spec.vllm_method, spec.n_predict, recipe.eval.ngram_max)
            vllm = measure_speculative_decoding(
                model_path, recipe.synth, cases, [r["prompt_token_ids"] for r in eval_ready], recipe.eval.max_tokens,
                recipe.eval.batch_sizes, recipe.eval.repeats, recipe.eval.sampled_temperature,
            )
            for r in vllm.values():
                r.pop("outputs", None)

    metrics = {
        "model": recipe.model,
        "speculator": spec.type,
        "teacher_mode": t.mode,
        "drafter_dir": drafter_dir,
        "base_identity": identity,
        "simulated": {"untrained": train_metrics["eval_history"][0], "trained": train_metrics["eval_history"][-1]},
        "vllm": vllm,
        "train": train_metrics,
    }
    metrics["plots"] = write_plots(run.dir, metrics)
    return run.finish(metrics, render_report)
