"""The text dedup compares, taken from a batch: a string column, a chat column (its messages'
contents, one per line) or several of them joined by newlines (the whole conversation)."""

from __future__ import annotations

import pyarrow as pa

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.data.arrow_compute import pc


class DedupFieldError(ArcticRayError):
    pass


def check_columns(ds, cfg) -> None:
    """Fail on the driver, naming the field, before any task runs (inside a task the message
    would reach the user wrapped in a Ray traceback)."""
    schema = ds.schema()
    if schema is None:  # an empty dataset: nothing to compare
        return
    names = list(schema.names)
    for name in [cfg.field] if isinstance(cfg.field, str) else cfg.field:
        if name not in names:
            raise DedupFieldError(f"dedup field {name!r} is not a column (columns: {', '.join(names)})")
    if cfg.survivor_score is not None and cfg.survivor_score not in names:
        raise DedupFieldError(
            f"survivor_score column {cfg.survivor_score!r} is not a column (columns: {', '.join(names)})"
        )


def text_column(batch: pa.Table, field: str | list[str]) -> pa.Array:
    fields = [field] if isinstance(field, str) else field
    parts = [_as_text(batch, name) for name in fields]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, pa.scalar("\n", pa.large_string()))


def _as_text(batch: pa.Table, name: str) -> pa.Array:
    if name not in batch.column_names:
        raise DedupFieldError(f"dedup field {name!r} is not a column (columns: {', '.join(batch.column_names)})")
    column = batch.column(name).combine_chunks()
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.fill_null(column.cast(pa.large_string()), "")
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and pa.types.is_struct(kind.value_type):
        if kind.value_type.get_field_index("content") >= 0:
            # raw offsets with the raw child values: right for sliced arrays too
            contents = pc.fill_null(pc.struct_field(column.values, "content").cast(pa.large_string()), "")
            lists = pa.LargeListArray.from_arrays(column.offsets.cast(pa.int64()), contents)
            return pc.fill_null(pc.binary_join(lists, pa.scalar("\n", pa.large_string())), "")
    raise DedupFieldError(f"dedup field {name!r} holds {kind}: expected text or chat messages")
