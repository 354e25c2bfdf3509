"""The main job: prompts (+ self-instruct) -> the teacher's continuations (generated first, or
live beside the trainer) -> dedup -> drafter training on a TorchTrainer with DeepSpeed ZeRO-2 ->
speculative decoding measured in vLLM -> a run directory with the export, metrics and plots.

`run_spec_decode` is the list of stages; each stage is a function below. Copy this file to build
another pipeline."""

from __future__ import annotations

import math
from typing import cast

import ray
import ray.data

from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.curate.dedup.minhash import minhash_dedup
from arctic_ray.data.driver_rows import dataset_of
from arctic_ray.data.prompts import PromptSet, read_prompts
from arctic_ray.methods.spec_decode.context import Context, TrainingData
from arctic_ray.methods.spec_decode.drafters.draft_vocab import count_tokens
from arctic_ray.methods.spec_decode.engine_features import (
    FEATURES_DIR,
    engine_counts,
    with_features_only,
    without_features,
)
from arctic_ray.methods.spec_decode.engine_requests import generation_requests
from arctic_ray.methods.spec_decode.prompt_sets import prepare_prompts
from arctic_ray.methods.spec_decode.recipe import SpecDecodeRecipe
from arctic_ray.methods.spec_decode.report import render_report, write_plots
from arctic_ray.methods.spec_decode.samples import (
    completion_tokens,
    response_generations,
    to_speculator_samples,
    training_columns,
)
from arctic_ray.methods.spec_decode.scaling_position import position_on_curve, position_sentence, read_curve
from arctic_ray.methods.spec_decode.serving import record_serving
from arctic_ray.methods.spec_decode.sizing import sized
from arctic_ray.methods.spec_decode.teacher.feeder import start_teacher
from arctic_ray.methods.spec_decode.trainer import SpeculatorMethod
from arctic_ray.methods.spec_decode.vllm_eval import EvalPrompts, measure_speculative_decoding, spec_cases
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.schema import failed
from arctic_ray.train.run import Phase, TrainRun
from arctic_ray.train.torch_trainer import export_location, run_trainer, train_metrics


def eval_columns(ctx: Context, answered: list[dict]) -> dict:
    """The held-out prompts with the base's greedy continuations, for the simulated acceptance."""
    seq_len = ctx.recipe.teacher.gen_prompt_length + ctx.recipe.eval.max_tokens
    columns, _ = training_columns([r for r in answered if not r["error"]], seq_len, 1, ctx.pad_id)
    return columns


def stored_features(ctx: Context, rows: ray.data.Dataset, name: str) -> ray.data.Dataset:
    """Rows with their features, written once into the run directory (`features/<name>`) and read
    back from there each epoch; their size is counted (features are large: F values per token).
    Rows an engine kept dying on have none: they go to the rejects with the reason, not to training.
    A rerun (`--resume`) whose rows and base are those stored (`features/<name>.key`, written
    after the features) reads them instead of prefilling again. `arctic-ray retrain` trains other
    drafters on them without generating again."""
    loc, marker = ctx.run.at(FEATURES_DIR, name), ctx.run.at(FEATURES_DIR, f"{name}.key")
    key = ctx.features_key(rows)
    reused = marker.exists() and marker.read_text() == key
    if not reused:
        if marker.exists():  # first: a crash while writing must not leave an old key over new rows
            marker.fs.delete_file(marker.path)
        ctx.with_features(rows).write_parquet(loc.emptied().path, filesystem=loc.fs)
        marker.write_text(key)
    size = loc.size_bytes()
    stored = ray.data.read_parquet(loc.path, filesystem=loc.fs)
    set_aside = ctx.run.set_aside(without_features(stored))
    ctx.run.count(**{f"features_{name}_bytes": size, f"features_{name}_set_aside": set_aside})
    ctx.run.count(**{f"features_{name}_reused": int(reused)})
    how = "stored by an earlier run of this directory, read back" if reused else "in"
    print(f"[arctic_ray] target features ({name}): {size / 2**20:.1f} MiB {how} {loc.uri}", flush=True)
    return with_features_only(stored)


def offline_data(ctx: Context, ready: list[dict], eval_ready: list[dict]) -> TrainingData:
    """Generate every continuation first (the held-out ones greedy, in the same engine run),
    dedup them, and turn them into training rows."""
    recipe, run, spec = ctx.recipe, ctx.run, ctx.recipe.speculator
    sampling = recipe.synth.sampling.model_dump()
    eval_ids = {r["id"] for r in eval_ready}
    with run.stage("generate", f"generate with {recipe.synth.backend} ({recipe.model.name_or_path})"):
        requests = generation_requests(eval_ready, {**sampling, "temperature": 0.0}) + generation_requests(
            ready, sampling
        )
        generated = ctx.generate(requests)
        rows = generated.rows.materialize()
        run.count(generations_reused=generated.reused, generations_sent=generated.sent)
        run.count(generation_errors=run.write_rows("errors", rows.filter(failed)))
        eval_ds = ctx.rows_of(eval_columns(ctx, [r for r in rows.filter(lambda r: r["id"] in eval_ids).iter_rows()]))
        ok = rows.filter(lambda r: not failed(r) and r["id"] not in eval_ids).materialize()
    with run.stage("dedup", "deduplicate continuations (MinHash LSH)"):
        kept = ok
        if recipe.dedup.enabled:
            dedup = minhash_dedup(ok, recipe.dedup)
            kept = dedup.kept.materialize()
            run.count(duplicates_dropped=run.write_rows("duplicates", dedup.duplicates))
        run.count(kept=run.write_rows("generations", kept), train_completion_tokens=completion_tokens(kept))
    with run.stage("tokenize", "training rows"):
        samples, rejects = to_speculator_samples(kept, recipe.data.max_length, spec.n_predict, ctx.pad_id)
        samples = samples.materialize()
        num_rows = samples.count()
        run.count(too_short_or_long=run.set_aside(rejects), train_sequences=num_rows)
        counts = count_tokens(kept, "completion_token_ids", ctx.vocab_size) if spec.uses_token_counts else None
    train = samples.drop_columns(["id"])
    if ctx.engine_features:
        with run.stage("features", "the target's hidden states, from vLLM (one prefill per sequence)"):
            train = stored_features(ctx, train, "train")
            eval_ds = stored_features(ctx, eval_ds, "eval").materialize()
            run.count(**{f"feature_{k}": v for k, v in engine_counts(ctx.model).items()})
    return TrainingData({"train": train, "eval": eval_ds}, num_rows=num_rows, token_counts=counts)


def online_data(ctx: Context, ready: list[dict], eval_ready: list[dict]) -> TrainingData:
    """Start the teacher beside the training workers; the training rows are its stream."""
    recipe, run, t, spec = ctx.recipe, ctx.run, ctx.recipe.teacher, ctx.recipe.speculator
    sampling = recipe.synth.sampling.model_dump()
    with run.stage("teacher", "start the co-located teacher"):
        layers = spec.target_layers(ctx.target_config) if ctx.engine_features else None
        teacher = start_teacher(t, recipe.synth, recipe.workers, ctx.model, ctx.store, layers, spec.features_dtype)
        eval_cols = eval_columns(ctx, teacher.answer(generation_requests(eval_ready, {**sampling, "temperature": 0.0})))
        eval_ds = ctx.rows_of(teacher.with_features(eval_cols))
        max_steps = cast(int, recipe.max_steps)  # the recipe checks that online mode sets it
        repeats = max(
            1, math.ceil(1.25 * max_steps * recipe.rows_per_step / max(len(ready), 1))
        )  # new samples when sampling
        stream_rows = teacher.keyed([r for k in range(repeats) for r in generation_requests(ready, sampling, k)])
        counts = None
        if (
            spec.uses_token_counts
        ):  # a first sample of the stream (then served from the store) chooses the draft vocabulary
            first = [r for r in teacher.answer(stream_rows[: 4 * t.batch_size]) if not r["error"]]
            counts = count_tokens(dataset_of(first), "completion_token_ids", ctx.vocab_size)
        run.count(stream_prompts=len(stream_rows))

    def to_rows(rows: list[dict]):
        return training_columns(rows, recipe.data.max_length, spec.n_predict, ctx.pad_id)

    stream = teacher.stream(dataset_of(stream_rows, t.batch_size), to_rows)
    return TrainingData({"train": stream.drop_columns(["id"]), "eval": eval_ds}, token_counts=counts, teacher=teacher)


def data_response_phase(ctx: Context, prompts: PromptSet, eval_ready: list[dict], data: TrainingData) -> list[Phase]:
    """When the data has responses of its own, train on them first for `teacher.data_steps`."""
    t = ctx.recipe.teacher
    if not (t.data_steps and prompts.with_responses):
        return [Phase("train")]
    with ctx.run.stage("data_responses", "the data's own responses, trained on first"):
        held = {r["id"] for r in eval_ready}
        responses, rejects = response_generations(
            [r for r in prompts.with_responses if r["id"] not in held], ctx.tokenizer
        )
        columns, unusable = training_columns(
            responses, ctx.recipe.data.max_length, ctx.recipe.speculator.n_predict, ctx.pad_id
        )
        ctx.run.count(
            data_response_rows=len(columns["id"]), data_response_rejects=ctx.run.set_aside(rejects + unusable)
        )
        if ctx.engine_features:  # the target's states of these rows too, from an engine
            data.datasets["data"] = (
                ctx.rows_of(data.teacher.with_features(columns))
                if data.teacher
                else ctx.with_features(ctx.rows_of(columns))
            )
        else:
            data.datasets["data"] = ctx.rows_of(columns)
    return [Phase("data", t.data_steps), Phase("train")]


def train_drafter(ctx: Context, data: TrainingData, phases: list[Phase]) -> tuple[str, dict]:
    recipe, spec, workers = ctx.recipe, ctx.recipe.speculator, ctx.recipe.workers
    with ctx.run.stage(
        "train", f"train the {spec.type} drafter ({workers.num_workers} workers, DeepSpeed ZeRO-{workers.zero_stage})"
    ):
        try:
            result = run_trainer(
                TrainRun(
                    trainer="speculator",
                    train=recipe,
                    method=SpeculatorMethod(ctx.model, spec, recipe.seed, data.token_counts),
                    datasets=data.datasets,
                    storage=ctx.run.loc,
                    phases=phases,
                    num_rows=data.num_rows,
                    feeder=data.teacher.feeder if data.teacher else None,
                    node_id=data.teacher.node_id if data.teacher else None,
                    seed=recipe.seed,
                )
            )
        except BaseException:
            if data.teacher is not None:  # a resume starts its own
                data.teacher.stop()
            raise
        metrics = train_metrics(result)
        if data.teacher is not None:
            metrics["teacher"], set_aside = data.teacher.finish()
            ctx.run.count(teacher_set_aside=ctx.run.set_aside(set_aside))
    return export_location(result, ctx.run.loc), metrics


def vllm_measurement(
    ctx: Context, drafter_dir: str, eval_ready: list[dict], foreign: list[dict], ready: list[dict]
) -> dict | None:
    """The eval sets timed in vLLM; the training prompts' first ones warm suffix decoding's cache."""
    e, spec = ctx.recipe.eval, ctx.recipe.speculator
    if not e.vllm:
        return None
    kinds = " / ".join(["none", *e.baselines] + ([f"drafter at k = 1..{spec.n_predict}"] if spec.vllm_method else []))
    with ctx.run.stage("vllm_eval", f"speculative decoding in vLLM: {kinds}"):
        cases = spec_cases(drafter_dir, spec.vllm_method, spec.n_predict, e)
        sets = {"heldout": [r["prompt_token_ids"] for r in eval_ready]}
        if foreign:
            sets["foreign"] = [r["prompt_token_ids"] for r in foreign]
        warmup = [r["prompt_token_ids"] for r in ready[: e.suffix_warmup_prompts]]
        prompts = EvalPrompts(sets, warmup)
        results = measure_speculative_decoding(
            ctx.model, ctx.recipe.synth, cases, prompts, e.max_tokens, e.batch_sizes, e.repeats, e.sampled_temperature
        )
    for r in results.values():
        for part in [r, *(v for v in r.values() if isinstance(v, dict) and "outputs" in v)]:
            part.pop("outputs", None)
    return results


@job("spec_decode", SpecDecodeRecipe)
def run_spec_decode(recipe: SpecDecodeRecipe, run_dir: str | None = None) -> dict:
    from transformers import AutoConfig, AutoTokenizer

    # Input problems surface first, before a run directory or a Ray cluster exists.
    prompts = read_prompts(recipe.data.sources, recipe.data.limit)
    model = ModelRef.of(recipe.model.name_or_path)  # config and tokenizer here; the weights where they load
    run = JobRun(recipe, run_dir)
    run.count(prompts_in=len(prompts.rows) + len(prompts.rejects), prompts_rejected=run.set_aside(prompts.rejects))
    init_ray(recipe.ray)
    recipe = sized(recipe)
    files = model.files()
    ctx = Context(
        recipe, run, model, AutoTokenizer.from_pretrained(files), AutoConfig.from_pretrained(files), recipe.store
    )
    with run.stage("prompts", "held-out eval prompts, self-instruct, teacher prompts"):
        ready, eval_ready, foreign = prepare_prompts(ctx, prompts)
    data = (offline_data if recipe.teacher.mode == "offline" else online_data)(ctx, ready, eval_ready)
    phases = data_response_phase(ctx, prompts, eval_ready, data)
    drafter_dir, train_metrics = train_drafter(ctx, data, phases)
    vllm = vllm_measurement(ctx, drafter_dir, eval_ready, foreign, ready)
    serving = record_serving(drafter_dir, vllm)  # the best k per batch size, into the export's config.json
    metrics = {
        "model": recipe.model.name_or_path,
        "speculator": recipe.speculator.type,
        "teacher_mode": recipe.teacher.mode,
        "drafter_dir": drafter_dir,
        "base_identity": model.identity,
        "simulated": {"untrained": train_metrics["eval_history"][0], "trained": train_metrics["eval_history"][-1]},
        "vllm": vllm,
        "serving": serving,
        "train": train_metrics,
    }
    curve, tokens = recipe.eval.scaling_curve, run.counts.get("train_completion_tokens")
    if curve and tokens:  # the offline job knows its tokens before training; online ones vary
        metrics["scaling_position"] = position_on_curve(read_curve(curve), tokens, recipe.model.name_or_path)
        print(f"[arctic_ray] {position_sentence(metrics['scaling_position'])}", flush=True)
    metrics["time_split_s"] = time_split(run.timings)
    print(
        "[arctic_ray] time split: " + ", ".join(f"{k} {v:.0f} s" for k, v in metrics["time_split_s"].items()),
        flush=True,
    )
    metrics["plots"] = write_plots(run, metrics)
    return run.finish(metrics, render_report)


SPLIT = {
    "generate": ("prompts", "generate", "teacher", "dedup", "tokenize", "data_responses"),
    "features": ("features",),
    "train": ("train",),
    "eval": ("vllm_eval",),
}


def time_split(timings: dict) -> dict:
    """Where the job's time went: making data, the target's features, training, measuring."""
    return {part: round(sum(timings.get(s, 0.0) for s in stages), 1) for part, stages in SPLIT.items()}
