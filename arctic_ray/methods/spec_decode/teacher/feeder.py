"""The co-located teacher as the job sees it: a feeder of the shared loop (`train/feeder.py`).
`start_teacher` places the engine actor beside the training workers; `answer` asks it outside the
stream (eval prompts, the draft vocabulary's first sample) and hands the credit back at once;
`stream` is the training rows as a streaming Ray Data stage (with the target's hidden states
when `features` is on); `finish` collects its counts and the rows it set aside. Credits, counts
and set-aside rows are the ledger's (`ledger.py`), which outlives a teacher that dies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from arctic_ray.methods.spec_decode.engine_features import ragged, row_sequences
from arctic_ray.methods.spec_decode.teacher.actor import TeacherActor
from arctic_ray.methods.spec_decode.teacher.config import TeacherConfig
from arctic_ray.methods.spec_decode.teacher.ledger import TeacherLedger
from arctic_ray.methods.spec_decode.teacher.placement import reserve_node, wait_until_free
from arctic_ray.methods.spec_decode.teacher.stream import ToTrainingRows, teacher_stream
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.synth.keyed import row_key
from arctic_ray.train.config import WorkersConfig
from arctic_ray.train.feeder import ActorFeeder


@dataclass
class TeacherFeeder:
    actor: Any
    ledger: Any
    node_id: str
    synth: VLLMSynthConfig
    model_key: str
    batch_size: int
    features: bool = False

    @property
    def feeder(self) -> ActorFeeder:
        """What the training loop is given: told every rank's consumption."""
        return ActorFeeder(self.ledger)

    def keyed(self, rows: list[dict]) -> list[dict]:
        """Rows with their store keys: the teacher's answers are the `vllm` backend's."""
        return [{**r, "key": row_key(self.synth, r, self.model_key)} for r in rows]

    def answer(self, rows: list[dict]) -> list[dict]:
        answered = ray.get(self.actor.generate.remote(self.keyed(rows)))
        ray.get(self.ledger.release.remote(len(answered)))
        return answered

    def with_features(self, columns: dict) -> dict:
        """Training columns with the target's hidden states from the teacher's engine (when on)."""
        if not self.features:
            return columns
        return {**columns, "features": ragged(ray.get(self.actor.features.remote(row_sequences(columns))))}

    def stream(self, rows: ray.data.Dataset, to_training_rows: ToTrainingRows) -> ray.data.Dataset:
        def to_rows(answered: list[dict]):
            columns, unusable = to_training_rows(answered)
            return self.with_features(columns), unusable

        return teacher_stream(rows, self.actor, self.ledger, self.batch_size, to_rows)

    def finish(self) -> tuple[dict, list[dict]]:
        """(its counts, the rows it set aside with their reasons); the actors are stopped."""
        stats, set_aside = teacher_stats(self.actor, self.ledger), ray.get(self.ledger.set_aside_rows.remote())
        self.stop()
        return stats, set_aside

    def stop(self) -> None:
        """Without restarts: a teacher whose node died would otherwise wait for it forever."""
        ray.kill(self.actor, no_restart=True)
        ray.kill(self.ledger, no_restart=True)


def teacher_stats(actor, ledger) -> dict:
    """The ledger's counts with the engine time of the teacher's current process."""
    counts, engine = ray.get([ledger.stats.remote(), actor.stats.remote()])
    span = (counts["last_done"] or 0) - (counts["first_call"] or 0)
    return {**counts, **engine, "busy_fraction": engine["busy_s"] / span if span > 0 else 0.0}


def start_teacher(
    cfg: TeacherConfig,
    synth: VLLMSynthConfig,
    workers: WorkersConfig,
    model: ModelRef,
    store: str,
    layers: tuple[int, ...] | None = None,
    features_dtype: str = "float32",
) -> TeacherFeeder:
    """`layers`: the target layers a drafter reads, when the teacher's engine gives the features."""
    engine = synth.model_copy(
        update={
            "cpus_per_engine": cfg.cpus,
            "gpus_per_engine": cfg.gpus,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
        }
    )
    per_worker = (workers.cpus_per_worker, workers.gpus_per_worker)
    node_id = reserve_node((cfg.cpus, cfg.gpus), workers.num_workers, per_worker, cfg.placement_timeout_s)
    wait_until_free(
        node_id, cfg.cpus + workers.num_workers * per_worker[0], cfg.gpus + workers.num_workers * per_worker[1]
    )
    # at least one batch per training rank and two more, or the ranks would wait on each other
    max_ahead = max(cfg.max_ahead_rows, (workers.num_workers + 2) * cfg.batch_size)
    ledger = TeacherLedger.options(  # beside the driver, off the node that may lose the teacher
        scheduling_strategy=NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    ).remote(max_ahead)
    actor = TeacherActor.options(
        num_cpus=cfg.cpus,
        num_gpus=cfg.gpus,
        label_selector={"ray.io/node-id": node_id},
        runtime_env={"env_vars": engine.engine_env()},
        # a teacher whose process dies starts again on its node and is asked its calls again
        max_restarts=cfg.max_restarts,
        max_task_retries=-1,
    ).remote(model, engine, store, ledger, None if layers is None else list(layers), features_dtype)
    return TeacherFeeder(actor, ledger, node_id, synth, model.key, cfg.batch_size, features=layers is not None)
