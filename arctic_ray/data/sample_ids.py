"""One convention for the rows made from one row (a source's weighted copies, n samples of a
prompt, repeats of an eval prompt): the k-th is `id#k`, and the 0th keeps `id`, so a row taken
once reads as itself. Each also carries `source_id` (the row it came from) and `sample` (k), which
the generation store keys on: n samples of one prompt stay n answers."""

from __future__ import annotations

SEPARATOR = "#"


def sample_id(row_id: str, k: int) -> str:
    return row_id if k == 0 else f"{row_id}{SEPARATOR}{k}"


def nth(row: dict, k: int) -> dict:
    """The k-th row made from `row` (its id, `source_id` and `sample`)."""
    return {**row, "id": sample_id(str(row["id"]), k), "source_id": row["id"], "sample": k}
