"""Sequence-parallel misconfigurations stop the run before any worker starts, naming the field;
the plan says how a sequence is split."""

import pytest
from transformers import LlamaConfig

from arctic_ray.core.recipe import RecipeError
from arctic_ray.job_table import validate_recipe
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.sequence_parallel import SequenceParallelError, check_model, check_plan, describe, start
from arctic_ray.train.sequence_parallel import layout as layout_of


def llama(heads: int, kv_heads: int, positions: int = 2048, **extra) -> LlamaConfig:
    return LlamaConfig(
        hidden_size=heads * 32,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=positions,
        **extra,
    )


def test_a_worker_count_the_group_does_not_divide_is_named():
    with pytest.raises(RecipeError, match="workers.num_workers: 3 is not a multiple of sequence_parallel_size 2"):
        validate_recipe({"type": "sft", "sequence_parallel_size": 2, "workers": {"num_workers": 3}})
    # a count the resource plan filled in skips the recipe's validator: the driver's check names it too
    recipe = validate_recipe({"type": "sft", "sequence_parallel_size": 2, "model": {"name_or_path": "tiny"}})
    planned = recipe.model_copy(update={"workers": recipe.workers.model_copy(update={"num_workers": 3})})
    with pytest.raises(SequenceParallelError, match="workers.num_workers: 3"):
        check_plan(planned, ModelRef.of("tiny"), 128)
    check_plan(recipe, ModelRef.of("tiny"), 128)  # 2 workers, a model of 2 heads and 1 KV head: fine


def test_heads_the_group_cannot_split_are_named():
    with pytest.raises(
        SequenceParallelError, match="sequence_parallel_size: 2 does not divide the model's 9 attention"
    ):
        check_model(2, llama(9, 3), 1024)  # SmolLM2-135M's heads
    with pytest.raises(SequenceParallelError, match="sequence_parallel_size: 4 and the model's 6 KV heads"):
        check_model(4, llama(12, 6), 1024)
    check_model(4, llama(8, 2), 1024)  # fewer KV heads than ranks: DeepSpeed replicates them
    check_model(2, llama(8, 2), 1024)
    check_model(1, llama(9, 3), 1024)  # without SP any head count does


def test_sequences_beyond_the_positions_need_rope_scaling():
    with pytest.raises(SequenceParallelError, match="data.max_length: 4096 tokens are beyond the model's 2048"):
        check_model(1, llama(8, 2, positions=2048), 4096)
    scaled = llama(8, 2, positions=2048, rope_scaling={"rope_type": "linear", "factor": 4.0})
    check_model(2, scaled, 4096)
    check_model(2, llama(8, 2, positions=2048), 2048)


def test_sequence_parallel_attention_is_sdpa():
    with pytest.raises(SequenceParallelError, match="model.attn_implementation: .* not eager"):
        start(2, "eager", 1, "tiny")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"type": "swiftkv"}, "SwiftKV's later layers"),
        ({"type": "spec_decode"}, "the drafter trains on the target's features"),
    ],
)
def test_trainers_that_cannot_split_a_sequence_refuse_with_the_reason(raw, reason):
    with pytest.raises(RecipeError, match=f"sequence_parallel_size: {reason}"):
        validate_recipe({**raw, "sequence_parallel_size": 2})


def test_the_plan_says_how_a_sequence_is_split():
    recipe = validate_recipe(
        {
            "type": "sft",
            "sequence_parallel_size": 2,
            "workers": {"num_workers": 4},
            "tiled_mlp_compute": True,
            "logits_tile_tokens": 512,
            "gradient_checkpointing": True,
        }
    )
    layout = layout_of(recipe, 8191)
    assert layout["groups"] == 2 and layout["tokens_per_rank"] == 4096
    text = describe(layout)
    assert "a group of 2 consecutive ranks (2 group(s)" in text and "up to 4096 of its 8191 tokens a rank" in text
    assert text.endswith("tiled MLP, logits in tiles of 512 tokens, gradient checkpointing")
    assert describe(layout_of(validate_recipe({"type": "sft"}), 512)) == "each sequence (up to 512 tokens) on one rank"
