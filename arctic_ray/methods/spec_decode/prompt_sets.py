"""The main job's three prompt sets: the training prompts (with self-instruct's, deduplicated
against the others), the held-out split of them (chosen before anything is generated), and the
foreign eval set of other styles (decontaminated against ours), each ready for its engine."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from arctic_ray.curate.dedup.decontaminate import dedup_against
from arctic_ray.data.chat import chat_ids
from arctic_ray.data.prompts import PromptSet, read_prompts
from arctic_ray.methods.spec_decode.context import Context
from arctic_ray.methods.spec_decode.engine_requests import prompt_text, split_eval_prompts
from arctic_ray.methods.spec_decode.self_instruct import self_instruct
from arctic_ray.methods.spec_decode.teacher.prompts import teacher_prompts
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""Where the shipped data lives (examples/), for relative paths the working directory lacks."""


def prepare_prompts(ctx: Context, prompts: PromptSet) -> tuple[list[dict], list[dict], list[dict]]:
    """(training prompts, held-out eval prompts, foreign eval prompts), ready for the teacher."""
    recipe, run, t = ctx.recipe, ctx.run, ctx.recipe.teacher
    eval_rows, pool = split_eval_prompts(prompts.rows, recipe.eval.num_prompts)
    if recipe.self_instruct.enabled:
        new, rejects, counts = self_instruct(recipe.self_instruct, recipe.synth, ctx.target)
        run.set_aside(rejects)
        new, dups = dedup_against(new, prompt_text, [prompt_text(r) for r in eval_rows + pool], recipe.dedup)
        run.write_rows("self_instruct_duplicates", dups)
        run.count(self_instruct_asked=counts["asked"], self_instruct_added=len(new), self_instruct_duplicates=len(dups))
        pool += new
    ready, rejects = teacher_prompts(pool, ctx.tokenizer, t.gen_prompt_length, t.gen_seq_length)
    eval_ready, eval_rejects = teacher_prompts(eval_rows, ctx.tokenizer, t.gen_prompt_length, t.gen_seq_length)
    for row in eval_ready:
        row["max_tokens"] = recipe.eval.max_tokens
    foreign = foreign_prompts(ctx, pool + eval_rows)
    run.count(
        prompts_unusable=run.set_aside(rejects + eval_rejects), eval_prompts=len(eval_ready), train_prompts=len(ready)
    )
    print(
        f"[arctic_ray] {len(ready)} training prompts, {len(eval_ready)} held-out eval prompts, "
        f"{len(foreign)} foreign eval prompts",
        flush=True,
    )
    return ready, eval_ready, foreign


def foreign_prompts(ctx: Context, ours: list[dict]) -> list[dict]:
    """The second eval set (`eval.foreign_prompts`), without the prompts that near-duplicate one
    of ours (counted and written to `foreign_duplicates`), ready for the engines."""
    recipe, run = ctx.recipe, ctx.run
    if not (recipe.eval.vllm and recipe.eval.foreign_prompts):
        return []
    path = Path(recipe.eval.foreign_prompts)
    if not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / path
    foreign = read_prompts(str(path), recipe.eval.foreign_limit)
    kept, dups = dedup_against(foreign.rows, prompt_text, [prompt_text(r) for r in ours], recipe.dedup)
    run.write_rows("foreign_duplicates", dups)
    # timed in the eval's engines, not trained on: the engine's length is the bound, not the teacher's
    limit = cast(VLLMSynthConfig, recipe.synth).max_model_len - recipe.eval.max_tokens
    ready, rejects = [], []
    for row in kept:
        ids = chat_ids(ctx.tokenizer, row["messages"], add_generation_prompt=True)
        if len(ids) > limit:
            reason = f"prompt is {len(ids)} tokens; the eval engine has room for {limit} beside eval.max_tokens"
            rejects.append({"stage": "foreign_prompt", "id": row["id"], "reason": reason})
        else:
            ready.append({**row, "prompt_token_ids": ids})
    run.count(
        foreign_prompts=len(ready),
        foreign_contaminated=len(dups),
        foreign_unusable=run.set_aside(foreign.rejects + rejects),
    )
    return ready
