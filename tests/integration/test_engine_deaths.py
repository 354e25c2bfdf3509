"""vLLM engine actors that die mid-synthesis (real Ray, real vLLM on CPU, the tiny model), through
the synthesis job: a dead engine actor is restarted and its batches retried, and a prompt that
kills the engine every time is set aside with its reason while its batch-mates are answered.

One job run serves every test here (each engine death costs an engine start): its first batch
holds a row whose engine is SIGKILLed the first time it sees it and a row that crashes the
engine every time (the test-only hook, `engines/vllm/deaths/crash_hook.py`). The deaths it
takes: the SIGKILL (the batch, and any batch beside it, retried alone on a fresh engine), the
poison row's crash of that batch alone (it is halved), the poison row's crash alone (it is set
aside): three restarts."""

import json
import os
import re
from pathlib import Path

import pytest

from arctic_ray.engines.vllm.deaths import halving
from arctic_ray.engines.vllm.deaths.crash_hook import CRASH_ENV, ONCE
from arctic_ray.engines.vllm.deaths.ledger import DEATHS_WITHOUT_PROGRESS, DeathLedger, EnginesKeepDying
from arctic_ray.methods.synth_curate.job import run_synth
from arctic_ray.methods.synth_curate.recipe import SynthRecipe
from arctic_ray.synth.backend import SamplingConfig
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

MARKER = "ENGINE-KILLER-7f3a"
KILLED_ONCE, POISON = "killed-once", "poison"


def _prompt(i: int, text: str) -> dict:
    return {"id": i, "messages": [{"role": "user", "content": text}]}


@pytest.fixture(scope="module")
def deaths_run(ray_local, tiny_model, tmp_path_factory):
    """The job run: its metrics and its output rows by id (completions and errors)."""
    work = tmp_path_factory.mktemp("engine_deaths")
    rows = [
        {**_prompt(0, f"Say hello. {MARKER}{ONCE}"), "id": KILLED_ONCE},  # first batch: [killed-once, poison]
        {**_prompt(1, f"Say goodbye. {MARKER}"), "id": POISON},
        *(_prompt(i, f"Tell me about the number {i}.") for i in range(6)),
    ]
    prompts = work / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = SynthRecipe(
        model=tiny_model,
        input={"prompts": prompts},
        output_dir=str(work / "runs"),
        store=str(work / "store"),
        synth=VLLMSynthConfig(
            sampling=SamplingConfig(max_tokens=8),
            batch_size=2,
            concurrent_batches=2,
            max_model_len=256,
            kv_cache_bytes=64 << 20,
        ),
    )
    os.environ[CRASH_ENV] = MARKER  # forwarded to the engine actors by the backend
    try:
        metrics = run_synth(recipe)
    finally:
        del os.environ[CRASH_ENV]
    run = Path(metrics["run_dir"])
    out = {name: [json.loads(line) for line in (run / f"{name}.jsonl").read_text().splitlines()] for name in
           ("completions", "errors") if (run / f"{name}.jsonl").exists()}  # fmt: skip
    return metrics, out, [r["id"] for r in rows]


@pytest.mark.timeout(300)
def test_an_engine_killed_mid_synthesis_is_restarted_and_every_row_comes_out_once(deaths_run):
    metrics, out, ids = deaths_run
    seen = [str(r["id"]) for table in out.values() for r in table]
    assert sorted(seen) == sorted(map(str, ids))  # every row once: none lost, none twice
    completions = {str(r["id"]): r for r in out["completions"]}
    assert completions[KILLED_ONCE]["completion"] and completions[KILLED_ONCE]["error"] == ""
    counts = metrics["backend_counts"]
    assert counts["engine_restarts"] >= 3  # the SIGKILL, then the poison row twice (or more: see above)
    assert counts["retried_batches"] >= 3
    assert metrics["tally"]["ok"] == len(ids) - 1


def test_a_prompt_that_kills_the_engine_every_time_is_set_aside_with_its_reason(deaths_run):
    metrics, out, ids = deaths_run
    (poison,) = out["errors"]
    assert str(poison["id"]) == POISON and poison["completion"] == "" and poison["finish_reason"] == "error"
    assert re.match(r"engine died: the vLLM engine died [3-9] times with this row on it", poison["reason"])
    assert metrics["backend_counts"]["poison_rows"] == 1
    assert metrics["tally"]["errors"] == {"engine died": 1}
    # its batch-mate, halved away from it, is answered like every other row
    assert {str(r["id"]) for r in out["completions"]} == {str(i) for i in ids} - {POISON}


def test_a_batch_is_halved_down_to_the_rows_the_engine_dies_with_alone():
    # whole until its second death, then one halving per death
    assert halving.plan([1, 1, 1, 1], 2).groups == [[0, 1, 2, 3]]
    assert halving.plan([2, 2, 2, 2], 2).groups == [[0, 1], [2, 3]]
    assert halving.plan([3, 3, 2, 2], 2).groups == [[0], [1], [2, 3]]
    # a row that died alone (after two deaths at least) is set aside; its neighbour goes on
    assert halving.plan([4, 3, 2, 2], 2) == halving.Plan(groups=[[1], [2, 3]], poison=[0])
    # a batch of one: two deaths, the first maybe another batch's fault
    assert halving.plan([1], 1) == halving.Plan(groups=[[0]], poison=[])
    assert halving.plan([2], 2) == halving.Plan(groups=[], poison=[0])


def test_the_ledger_counts_a_death_against_the_rows_on_the_engine_and_gives_up_on_engines_that_keep_dying():
    ledger = DeathLedger("test")  # the plain class: what the Ray actor runs
    a, b, c = ("k1", "a"), ("k2", "b"), ("k3", "c")
    assert ledger.started("engine-1") == [] and ledger.begin("engine-1", [a, b]) is None  # a, b on its engine
    ledger.begin("engine-1", [c])
    ledger.returned("engine-1", [c])  # c came back before the death
    assert sorted(ledger.started("engine-1")) == [a, b]  # the same actor again: its process died with a, b
    seen = ledger.begin("engine-1", [a, b, c])
    assert seen is not None and seen.deaths == [1, 1, 0] and seen.causes[a] == "its process died"
    ledger.handing("engine-1", [a])
    ledger.will_die("engine-1", "its engine failed: RuntimeError: boom")
    ledger.started("engine-1")
    seen = ledger.begin("engine-1", [a, b])
    assert seen is not None and seen.deaths == [2, 1] and "boom" in seen.causes[a]
    assert ledger.report() == {"engine_restarts": 2, "retried_batches": 2, "poison_rows": 0}
    for _ in range(DEATHS_WITHOUT_PROGRESS):  # deaths with nothing answered in between
        ledger.started("engine-1")
    with pytest.raises(EnginesKeepDying, match="every request seems to kill the engine"):
        ledger.begin("engine-1", [c])


@pytest.mark.timeout(600)
def test_a_sequence_that_kills_the_feature_engine_is_set_aside_and_its_batch_mates_get_their_features(
    ray_local, tiny_model
):
    """The drafter's features stage (engine features) under the same guard: a training row that
    crashes the engine every time comes out without features, with the reason; the others have
    theirs."""
    import numpy as np
    import ray.data
    from transformers import AutoConfig, AutoTokenizer

    from arctic_ray.methods.spec_decode.engine_features import (
        engine_counts,
        with_engine_features,
        with_features_only,
        without_features,
    )
    from arctic_ray.models.ref import ModelRef

    tok = AutoTokenizer.from_pretrained(tiny_model)
    texts = [f"Say goodbye. {MARKER}", "Tell me about one.", "Tell me about two.", "Tell me about three."]
    sequences = [tok(t)["input_ids"] for t in texts]
    assert MARKER in tok.decode(sequences[0])  # what the hook reads in the engine actor
    width = 24
    rows = [
        {"input_ids": np.array(s + [0] * (width - len(s))), "length": len(s), "n": i} for i, s in enumerate(sequences)
    ]
    model = ModelRef.of(tiny_model)
    engine = VLLMSynthConfig(batch_size=2, max_model_len=256, kv_cache_bytes=64 << 20)
    layers = [1, 2, 3]
    os.environ[CRASH_ENV] = MARKER
    try:
        stored = with_engine_features(ray.data.from_items(rows), model, engine, layers, "float32").materialize()
    finally:
        del os.environ[CRASH_ENV]
    counts = engine_counts(model)
    (rejected,) = without_features(stored)
    assert rejected["input_ids"] == sequences[0]
    assert re.match(r"engine died: the vLLM engine died [3-9] times with this row on it", rejected["reason"])
    hidden = AutoConfig.from_pretrained(tiny_model).hidden_size
    trainable = {r["n"]: r for r in with_features_only(stored).iter_rows()}
    assert sorted(trainable) == [1, 2, 3]
    for n, r in trainable.items():
        assert r["features"].shape == (len(sequences[n]), (len(layers) + 1) * hidden)
        assert np.isfinite(r["features"]).all() and np.abs(r["features"]).sum() > 0
    assert counts["poison_rows"] == 1 and counts["engine_restarts"] >= 3
