"""The co-located teacher: a vLLM engine actor and two ZeRO-2 training workers share 2 cores;
the trainer consumes the teacher's continuations while it is still generating, and the bounded
buffer keeps the teacher from running through the whole stream; bad input is set aside with its
reason; the teacher's process SIGKILLed mid-run is started again and training goes on; a rerun
finds the stored answers."""

import os
import signal
import sys
import time

import ray
import ray.cloudpickle
import ray.data
from transformers import AutoTokenizer

from arctic_ray.core.storage import location
from arctic_ray.engines.vllm.settings import VLLMEngineConfig
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.samples import training_columns
from arctic_ray.methods.spec_decode.teacher.actor import TeacherActor
from arctic_ray.methods.spec_decode.teacher.feeder import TeacherFeeder, teacher_stats
from arctic_ray.methods.spec_decode.teacher.ledger import TeacherLedger
from arctic_ray.methods.spec_decode.teacher.placement import reserve_node
from arctic_ray.methods.spec_decode.teacher.prompts import teacher_prompts
from arctic_ray.methods.spec_decode.trainer import SpeculatorMethod
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.synth.keyed import STORED_COLUMNS, row_key
from arctic_ray.synth.store import GenerationStore
from arctic_ray.train.callbacks import Callback
from arctic_ray.train.config import TrainConfig
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import run_trainer, train_metrics
from tests.support.files import example_prompts

# Ray workers cannot import this test module: ship its classes by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

ENGINE = VLLMEngineConfig(cpus_per_engine=0.5, max_model_len=256, kv_cache_bytes=64 << 20)


def teacher_rows(tiny_model, n):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ready, rejects = teacher_prompts(
        example_prompts(n) + [{"id": "blank", "messages": [{"role": "user", "content": " "}]}], tok, 96, 128
    )
    assert [r["reason"] for r in rejects] == ["empty prompt"]
    # rows that reach the teacher broken: it must set them aside itself, not fail the batch
    ready.insert(3, {**ready[0], "id": "no-tokens", "prompt_token_ids": []})
    ready.insert(5, {**ready[0], "id": "too-long", "prompt_token_ids": [5] * 300})
    synth = VLLMSynthConfig()
    for r in ready:
        r["sampling"] = {"temperature": 0.0, "max_tokens": r["max_tokens"], "seed": 0}
        r["messages"] = r["messages"] + [{"role": "system", "content": r["id"]}]  # one key per row
        r["key"] = row_key(synth, r, "tiny-test")
    return ready


class SlowTrainer(Callback):
    """A trainer slower than its teacher, so the buffer between them fills up."""

    def pre_step(self, trainer, batch):
        time.sleep(1.0)


class KillTeacher(Callback):
    """SIGKILLs the teacher's process once, before step 3 (rank 0; the actors share the node)."""

    def __init__(self, teacher):
        self.teacher, self.done = teacher, False

    def pre_step(self, trainer, batch):
        if trainer.rank == 0 and trainer.global_step == 3 and not self.done:
            os.kill(ray.get(self.teacher.stats.remote())["pid"], signal.SIGKILL)
            self.done = True


def test_online_teacher_feeds_zero2_training(ray_local, tiny_model, tmp_path):
    rows = teacher_rows(tiny_model, 80)
    node = reserve_node((0.5, 0), 2, (1.0, 0), timeout_s=60)  # the teacher beside both workers
    # the teacher's engine also gives the target's hidden states: the trainers never run the base
    # 16 rows ahead at most (a batch per rank and two more): the 32 rows the run trains on outrun
    # what the teacher made before its death (at step 3), so the run needs the restarted teacher
    ledger = TeacherLedger.remote(16)
    teacher = TeacherActor.options(
        num_cpus=0.5, label_selector={"ray.io/node-id": node}, max_restarts=1, max_task_retries=-1
    ).remote(ModelRef.of(tiny_model), ENGINE, str(tmp_path / "store"), ledger, [1, 2, 3], "float16")
    cfg = TrainConfig(
        workers={"num_workers": 2},
        max_steps=8,
        micro_batch_size=2,
        data={"max_length": 128},
        optimizer={"lr": 0.003},
        scheduler={"name": "linear", "warmup_ratio": None, "warmup_steps": 1},
        log_every=2,
    )
    feeder = TeacherFeeder(teacher, ledger, node, VLLMSynthConfig(), "tiny-test", 4, features=True)
    stream = feeder.stream(ray.data.from_items(rows), lambda rs: training_columns(rs, 128, 3, 0))
    result = run_trainer(
        TrainRun(
            trainer="speculator",
            train=cfg,
            method=SpeculatorMethod(ModelRef.of(tiny_model), Eagle3Config(draft_vocab_size=128), 0),
            datasets={"train": stream.drop_columns(["id"])},
            storage=location(tmp_path),
            feeder=feeder.feeder,
            node_id=node,
            callbacks=[SlowTrainer(), KillTeacher(teacher)],
        )
    )
    m = train_metrics(result)
    stats = teacher_stats(teacher, ledger)
    aside = {r["id"]: r["reason"] for r in ray.get(ledger.set_aside_rows.remote())}
    assert m["steps"] == 8 and stats["teacher_restarts"] == 1, stats  # one death, no worker-group restart
    # nothing stored was generated twice: each key generated once, across the death
    assert stats["generated"] == len(GenerationStore(str(tmp_path / "store")).get_many([r["key"] for r in rows]))
    # the trainer started consuming before the teacher's last generation finished
    assert m["history"][0]["time"] < stats["last_done"]
    assert stats["consumed"] == 8 * 2 * 2
    # unbounded, the (faster) teacher would have run ~75 rows ahead; the bound holds it back
    assert stats["max_ahead"] <= 16 + 4 * stats["overruns"] and stats["overruns"] <= 2, stats
    assert aside["no-tokens"] == "empty prompt"
    assert "does not fit max_model_len 256" in aside["too-long"]
    assert 0 < stats["busy_fraction"] <= 1 and stats["generated"] + stats["reused"] >= stats["consumed"]
    # the restarted teacher's rows have the states captured as it generated them (no prefill)
    assert stats["feature_rows"]["one_pass"] > 0 and m["target_features"] == "engine", stats
    assert m["target_params_held"] < m["drafter_params"]  # embeddings and 128 head rows, no decoder layer
    feeder.finish()

    # a rerun over the same rows finds every stored answer and generates nothing, also an answer
    # the vllm backend stored (its rows carry the stored columns only, no `error`); answers it did
    # not generate have their features from a prefill
    served = [r for r in rows if r["id"] not in aside][:8]
    answered = GenerationStore(str(tmp_path / "store")).get_many([r["key"] for r in served])
    GenerationStore(str(tmp_path / "backend-store")).put_many(
        [{"key": k, **{c: a[c] for c in STORED_COLUMNS}} for k, a in answered.items()]
    )
    ledger = TeacherLedger.remote(24)
    again = TeacherActor.options(num_cpus=0.5).remote(
        ModelRef.of(tiny_model), ENGINE, str(tmp_path / "backend-store"), ledger, [1, 2, 3]
    )
    answers = ray.get(again.generate.remote(served))
    assert all(a["completion_token_ids"] for a in answers) and all(a["error"] == "" for a in answers)
    sequences = [(a["prompt_token_ids"] + a["completion_token_ids"])[:128] for a in answers]
    features = ray.get(again.features.remote(sequences))
    stats = teacher_stats(again, ledger)
    assert (stats["reused"], stats["generated"]) == (8, 0)
    assert stats["feature_rows"] == {"one_pass": 0, "prefill": 8}
    assert [f.shape for f in features] == [(len(s), 4 * 64) for s in sequences]
    ray.kill(again)
    ray.kill(ledger)
