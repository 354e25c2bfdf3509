"""The co-located teacher as the job sees it: a feeder of the shared loop (`train/feeder.py`).
`start_teacher` places the engine actor beside the training workers; `answer` asks it outside the
stream (eval prompts, the draft vocabulary's first sample) and hands the credit back at once;
`stream` is the training rows as a streaming Ray Data stage (with the target's hidden states
when `features` is on); `finish` collects its counts and the rows it set aside."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ray

from arctic_ray.methods.spec_decode.engine_features import ragged, row_sequences
from arctic_ray.methods.spec_decode.teacher.actor import TeacherActor
from arctic_ray.methods.spec_decode.teacher.config import TeacherConfig
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
    node_id: str
    synth: VLLMSynthConfig
    model_key: str
    batch_size: int
    features: bool = False

    @property
    def feeder(self) -> ActorFeeder:
        """What the training loop is given: told every rank's consumption."""
        return ActorFeeder(self.actor)

    def keyed(self, rows: list[dict]) -> list[dict]:
        """Rows with their store keys: the teacher's answers are the `vllm` backend's."""
        return [{**r, "key": row_key(self.synth, r, self.model_key)} for r in rows]

    def answer(self, rows: list[dict]) -> list[dict]:
        answered = ray.get(self.actor.generate.remote(self.keyed(rows)))
        ray.get(self.actor.release.remote(len(answered)))
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

        return teacher_stream(rows, self.actor, self.batch_size, to_rows)

    def finish(self) -> tuple[dict, list[dict]]:
        """(its counts, the rows it set aside with their reasons); the actor is stopped."""
        stats, set_aside = ray.get([self.actor.stats.remote(), self.actor.set_aside_rows.remote()])
        ray.kill(self.actor)
        return stats, set_aside


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
    actor = TeacherActor.options(
        num_cpus=cfg.cpus,
        num_gpus=cfg.gpus,
        label_selector={"ray.io/node-id": node_id},
        runtime_env={"env_vars": engine.engine_env()},
    ).remote(model, engine, store, max_ahead, None if layers is None else list(layers), features_dtype)
    return TeacherFeeder(actor, node_id, synth, model.key, cfg.batch_size, features=layers is not None)
