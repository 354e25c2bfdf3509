"""The SwiftKV job: the base checked against the recipe -> chat sources read, checked and split
(held-out chats by a stable hash) -> assistant-only examples multipacked (Ray Data) ->
distillation on a TorchTrainer (DeepSpeed ZeRO-2), only the SwiftKV modules training -> an
export in Arctic Inference's `llama_swiftkv` format -> the export reloaded and its prefill
measured against the original on held-out prompts -> a report with the distillation curves."""

from __future__ import annotations

import ray

from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.storage import local_copy
from arctic_ray.data.chat import chat_ids
from arctic_ray.data.chat_blocks import ChatBlocks
from arctic_ray.data.chat_examples import examples_of, read_chat_sources
from arctic_ray.data.multipack import bins_of
from arctic_ray.methods.swiftkv.load import load_swiftkv
from arctic_ray.methods.swiftkv.measure import original_model, prefill_counts
from arctic_ray.methods.swiftkv.recipe import SwiftKVRecipe, check_trainable
from arctic_ray.methods.swiftkv.report import plot_distill, render_report
from arctic_ray.methods.swiftkv.trainer import SwiftKVMethod
from arctic_ray.models.causal_lm import pad_token_id
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import export_location, run_trainer, train_metrics

PREFILL_PROMPTS = 4
"""Held-out prompts the reloaded export's prefill is measured on."""


def prompts_of(tokenizer, chats: ChatBlocks, n: int) -> list[list[int]]:
    """The first `n` chats, each up to its last assistant turn, with the generation prompt: what a
    server prefills."""
    out = []
    for row in chats.head(n):
        messages = row["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        out.append(chat_ids(tokenizer, messages[:last], add_generation_prompt=True))
    return out


@job("swiftkv", SwiftKVRecipe)
def run_swiftkv(recipe: SwiftKVRecipe, run_dir: str | None = None) -> dict:
    from transformers import AutoConfig, AutoTokenizer

    model = ModelRef.of(recipe.model.name_or_path)  # config and tokenizer here; the weights where they load
    check_trainable(recipe.model, AutoConfig.from_pretrained(model.files()))
    run = JobRun(recipe, run_dir)
    tokenizer = AutoTokenizer.from_pretrained(model.files())
    pad = pad_token_id(tokenizer)
    init_ray(recipe.ray)
    with run.stage("read", "read and check the chat sources"):
        chats = read_chat_sources(recipe.data.sources, recipe.data.eval_fraction, recipe.seed, keep=ray.put)
        run.set_aside(chats.rejects)
    per_rank_step = recipe.micro_batch_size * recipe.gradient_accumulation_steps
    with run.stage("pack", "tokenize (assistant tokens only) and pack"):
        examples, dropped = examples_of(chats.train, model, recipe.data, chats.counts)
        held_examples, dropped_eval = examples_of(chats.eval, model, recipe.data, chats.counts)
        workers, pack, capacity = recipe.workers.num_workers, recipe.data.pack, recipe.data.max_length
        train = bins_of(examples, pack, capacity, workers, per_rank_step)
        held = bins_of(held_examples, pack, capacity, workers, 1)
        run.set_aside(dropped + dropped_eval)
    title = (
        f"distil SwiftKV ({recipe.model.num_key_value_layers} KV layers) on {recipe.workers.num_workers} workers "
        f"(DeepSpeed ZeRO-{recipe.workers.zero_stage})"
    )
    with run.stage("train", title):
        result = run_trainer(
            TrainRun(
                trainer="swiftkv",
                train=recipe,
                method=SwiftKVMethod(model, recipe.model, recipe.distill, pad),
                datasets={"train": train, "eval": held},
                storage=run.loc,
                num_rows=train.count(),
                seed=recipe.seed,
            )
        )
        metrics_train = train_metrics(result)
    export_dir = export_location(result, run.loc)
    with run.stage(
        "prefill", "reload the export; measure its prefill against the original"
    ):  # in the driver: a handful of prompts
        prefill = prefill_counts(
            load_swiftkv(local_copy(export_dir)),
            original_model(model.path()),
            prompts_of(tokenizer, chats.eval, PREFILL_PROMPTS),
        )
    run.count(
        rejected=sum(c.get("rejected", 0) for c in chats.counts.values()), dropped=len(dropped) + len(dropped_eval)
    )
    metrics = {
        "model": recipe.model.name_or_path,
        "data": {
            "sources": {k: dict(v) for k, v in chats.counts.items()},
            "train_sequences": train.count(),
            "eval_sequences": held.count(),
        },
        "train": metrics_train,
        "prefill": prefill,
        "export_dir": export_dir,
    }
    metrics["plots"] = {
        "distill": plot_distill(metrics_train["history"], metrics_train["eval_history"], run.at("distill.png"))
    }
    return run.finish(metrics, render_report)
