"""The teacher's generations as a streaming Ray Data stage: prompt rows in, training rows out,
consumed by the trainer while the teacher generates the next ones."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import ray.data
from ray.data import TaskPoolStrategy

# rows answered by the teacher -> (training rows as a dict of columns, set-aside rows with reasons)
ToTrainingRows = Callable[[list[dict]], tuple[dict, list[dict]]]


def teacher_stream(
    prompts: ray.data.Dataset, teacher, ledger, batch_size: int, to_training_rows: ToTrainingRows
) -> ray.data.Dataset:
    """Each task waits on the teacher actor (the engine does the work), so tasks take no CPU;
    two in flight keep the engine busy while a finished batch travels to the trainer."""

    def generate(batch: pa.Table) -> dict:
        answered = ray.get(teacher.generate.remote(batch.to_pylist()))
        ok = [r for r in answered if not r["error"]]
        columns, unusable = to_training_rows(ok)
        if unusable:  # never reach the trainer: hand their credit back, with the reason
            ray.get(ledger.release.remote(len(unusable), unusable))
        return columns

    return prompts.map_batches(
        generate, batch_size=batch_size, batch_format="pyarrow", compute=TaskPoolStrategy(size=2), num_cpus=0
    )
