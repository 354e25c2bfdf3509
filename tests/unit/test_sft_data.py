"""SFT data and settings without a cluster: sources checked and mixed by weight, a held-out
split no copy leaks into, synthesis rows turned into chats, the DeepSpeed config a recipe makes
(schedules and optimizers as registered blocks, the `deepspeed:` block winning, batch sizes that
must agree), recipe field names."""

import json

import pyarrow as pa
import pytest

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.recipe import RecipeError
from arctic_ray.core.registry import registered
from arctic_ray.data.chat_examples import copies, held_out, read_chat_sources
from arctic_ray.job_table import load_recipe
from arctic_ray.methods.sft.recipe import SFTDataConfig, SFTSource, group_of
from arctic_ray.train.config import OptimizerConfig, TrainConfig
from arctic_ray.train.deepspeed_config import deepspeed_config
from tests.support.files import ROOT


def chats(n: int, prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": f"a {i}"}],
        }
        for i in range(n)
    ]


def write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_sources_are_checked_weighted_and_held_out_without_leaks(tmp_path):
    bad = [
        {"id": "x1", "messages": [{"role": "user", "content": "no answer"}]},
        {"id": "x2", "messages": [{"role": "wizard", "content": "hi"}]},
        {"id": "a0", "messages": [{"role": "user", "content": "dup"}, {"role": "assistant", "content": "dup"}]},
    ]
    a = write(tmp_path / "a.jsonl", chats(200, "a") + bad)
    b = write(
        tmp_path / "b.jsonl",
        [{"messages": [{"role": "user", "content": "p"}], "completion": f"c{i}"} for i in range(40)],
    )
    cfg = SFTDataConfig(
        sources=[SFTSource(path=a, weight=2.0, group="one"), SFTSource(path=b, weight=0.5, name="synth", group="two")],
        eval_fraction=0.1,
        mix="phased",
    )
    rows = read_chat_sources(cfg.sources, cfg.eval_fraction, cfg.seed, group_of)

    reasons = sorted(r["reason"] for r in rows.rejects)
    assert reasons == [
        "duplicate id 'a0'",
        "messages[0].role 'wizard' is not one of system, developer, user, assistant",
        "no assistant turn to train on",
    ]
    a_counts, b_counts = rows.counts["a"], rows.counts["synth"]
    assert a_counts["rows"] == 203 and a_counts["rejected"] == 3
    assert a_counts["used"] == 2 * (200 - a_counts["held_out"]) and 5 <= a_counts["held_out"] <= 40
    assert b_counts["used"] == len(rows.groups["two"]) and 8 <= b_counts["used"] <= 30  # half of ~36, by hash
    assert list(rows.groups) == ["one", "two"]
    # a synthesis row (prompt + completion) is one chat with the completion as the assistant turn
    last = rows.groups["two"].to_pylist()[0]["messages"][-1]
    assert last["role"] == "assistant" and last["content"] in {f"c{i}" for i in range(40)}
    # no held-out conversation is trained on, under any copy's id
    eval_ids = {r["id"] for r in rows.eval.to_pylist()}
    trained = {r["id"].split("#")[0] for r in rows.train.to_pylist()}
    assert eval_ids and not eval_ids & trained
    assert all(held_out(i, 0.1) for i in eval_ids)


def test_a_source_joins_consecutive_chats_into_long_ones(tmp_path):
    system = [{"role": "system", "content": "be brief"}]
    rows = [{**c, "messages": system + c["messages"]} for c in chats(10, "c")]
    source = SFTSource(path=write(tmp_path / "c.jsonl", rows), join=4)
    got = read_chat_sources([source], 0.0).train.to_pylist()
    assert [r["id"] for r in got] == ["c/c0+4", "c/c4+4", "c/c8+2"]  # the last joins what is left
    first = got[0]["messages"]
    assert first[0] == system[0] and sum(m["role"] == "system" for m in first) == 1  # one system turn, first
    assert [m["content"] for m in first if m["role"] == "user"] == ["q 0", "q 1", "q 2", "q 3"]
    assert len(got[2]["messages"]) == 1 + 2 * 2


def test_chats_stream_into_blocks_sized_by_bytes(monkeypatch, tmp_path):
    """The reader never lists every chat: each block goes to `keep` once it holds ~BLOCK_BYTES."""
    monkeypatch.setattr("arctic_ray.data.chat_blocks.BLOCK_BYTES", 2_000)
    rows = [{**c, "messages": [{"role": "user", "content": "x" * 90}, c["messages"][1]]} for c in chats(300, "c")]
    kept: list[pa.Table] = []

    def keep(table: pa.Table) -> pa.Table:
        kept.append(table)
        return table

    got = read_chat_sources([SFTSource(path=write(tmp_path / "c.jsonl", rows))], 0.0, keep=keep)
    assert len(kept) > 10 and all(t.num_rows <= 21 for t in kept)  # ~100 bytes a chat, 2,000 a block
    assert [r["id"] for r in got.train.to_pylist()] == [f"c/c{i}" for i in range(300)]
    assert sum(t.num_rows for t in kept) == len(got.train) == 300


def test_weights_repeat_and_subsample_by_a_stable_hash():
    ids = [f"src/{i}" for i in range(1000)]
    twice_and_half = [copies(i, 2.5, 0) for i in ids]
    assert set(twice_and_half) == {2, 3} and 2400 <= sum(twice_and_half) <= 2600
    picked = {i for i in ids if copies(i, 0.3, 0)}
    assert 250 <= len(picked) <= 350 and picked == {i for i in ids if copies(i, 0.3, 0)}  # the same every run
    assert picked != {i for i in ids if copies(i, 0.3, 1)}  # the seed chooses which
    assert all(copies(i, 1.0, 0) == 1 for i in ids)


def test_deepspeed_config_schedules_passthrough_and_conflicts():
    cfg = TrainConfig(
        scheduler={"name": "cosine", "warmup_ratio": 0.1},
        optimizer={"betas": (0.9, 0.95), "lr": 2e-4},
        deepspeed={"zero_optimization": {"reduce_bucket_size": 1000}, "gradient_clipping": 0.5},
    )
    ds = deepspeed_config(cfg, 100, use_gpu=False)
    assert ds["scheduler"]["type"] == "WarmupCosineLR" and ds["scheduler"]["params"]["warmup_num_steps"] == 10
    assert ds["optimizer"]["params"]["betas"] == [0.9, 0.95]
    assert ds["zero_optimization"] == {
        "stage": 2,
        "contiguous_gradients": True,
        "overlap_comm": False,
        "reduce_bucket_size": 1000,
    }
    assert ds["gradient_clipping"] == 0.5  # the deepspeed block wins
    assert deepspeed_config(TrainConfig(scheduler={"name": "constant"}), 10, False)["scheduler"]["type"] == "WarmupLR"
    with pytest.raises(ArcticRayError, match="gradient_accumulation_steps is 4"):
        deepspeed_config(TrainConfig(deepspeed={"gradient_accumulation_steps": 4}), 10, False)


def test_optimizer_and_schedule_are_registered_blocks():
    with pytest.raises(
        RecipeError,
        match="scheduler.name: .*unknown scheduler 'cosin'; registered schedulers: constant, cosine, linear",
    ):
        load_recipe(ROOT / "examples" / "sft.yaml", ["scheduler.name=cosin"])

    @registered("optimizer", "sgd_for_this_test")
    def sgd(cfg: OptimizerConfig) -> dict:
        return {"type": "SGD", "params": {"lr": cfg.lr}}

    recipe = load_recipe(ROOT / "examples" / "sft.yaml", ["optimizer.name=sgd_for_this_test", "optimizer.lr=0.5"])
    assert deepspeed_config(recipe, 10, False)["optimizer"] == {"type": "SGD", "params": {"lr": 0.5}}


def test_sft_recipe_takes_arctic_training_names_and_names_a_typo(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "type: sft\nmodel: {name_or_path: tiny}\nmicro_batch_size: 3\noptimizer: {lr: 0.01}\n"
        "checkpoint: {save_every_n_steps: 5}\n"
    )
    train = load_recipe(str(recipe), ["scheduler.name=linear"])
    got = (
        train.micro_batch_size,
        train.optimizer.lr,
        train.checkpoint.save_every_n_steps,
        train.scheduler.name,
        train.optimizer.betas,
    )
    assert got == (3, 0.01, 5, "linear", (0.9, 0.95))
    recipe.write_text("type: sft\noptimizer: {learning_rate: 0.01}\n")
    with pytest.raises(ArcticRayError, match="optimizer.learning_rate: unknown field"):
        load_recipe(str(recipe), [])
