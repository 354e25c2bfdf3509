"""Rows the driver holds, as a dataset of few blocks.

`ray.data.from_items` splits even a few hundred rows into up to 200 blocks, and every block is a
task in each later pass, whose fixed cost dwarfs the work of a few rows."""

from __future__ import annotations

import ray.data

ROWS_PER_BLOCK = 4096  # also the keying batch of the generation store: light per-row work, so one task's worth


def dataset_of(rows: list[dict], rows_per_block: int = ROWS_PER_BLOCK) -> ray.data.Dataset:
    return ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // rows_per_block)))
