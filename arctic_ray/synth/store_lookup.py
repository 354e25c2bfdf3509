"""Requests looked up in the generation store as a Ray Data join on the key, so neither the
store's index nor the requests ever sit in the driver's memory (the driver lists segment file
names and gets counts back).

Requests, stored answers and the sent log become rows of one shape (key, kind, payload), are
grouped by key on Ray Data's sort shuffle, and each group decides its requests: answered (the
first stored answer; a key stored twice by racing writers counts once), or to send, marked
in flight when the sent log has more `sent` than `settled` events for its key (sent, never
answered, never settled as failed: a crash caught it; `sent_log.py`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.fs as pafs
import ray.data

from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.shuffle import shuffle_strategy
from arctic_ray.synth.segments import ANSWER_PREFIX, SENT_PREFIX, open_fs

REQUEST, ANSWER, SENT = 0, 1, 2
TAGGED = pa.schema([("key", pa.string()), ("kind", pa.int8()), ("payload", pa.large_string())])
DECIDED = pa.schema(
    [
        ("key", pa.string()),
        ("hit", pa.int64()),
        ("miss", pa.int64()),
        ("in_flight", pa.int64()),
        ("payload", pa.large_string()),
    ]
)


@dataclass
class Lookup:
    hits: ray.data.Dataset
    """Request rows with their stored answer's columns."""
    misses: ray.data.Dataset
    """Request rows to send."""
    reused: int
    sent: int
    in_flight: set[str]
    """Keys to send that a crash caught in flight (few: at most what was in flight then)."""


def _segments(root: str, prefix: str) -> ray.data.Dataset | None:
    fs, path = open_fs(root)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    files = sorted(i.path for i in infos if i.base_name.startswith(prefix) and i.base_name.endswith(".jsonl"))
    if not files:
        return None
    kind = ANSWER if prefix == ANSWER_PREFIX else SENT
    return ray.data.read_text(files, filesystem=fs).map_batches(partial(_tag_lines, kind=kind), batch_format="pyarrow")


def _tag_lines(batch: pa.Table, kind: int) -> pa.Table:
    lines = [line for line in batch.column("text").to_pylist() if line]
    keys = [json.loads(line)["key"] for line in lines]
    return pa.Table.from_arrays(
        [pa.array(keys, pa.string()), pa.array([kind] * len(lines), pa.int8()), pa.array(lines, pa.large_string())],
        schema=TAGGED,
    )


def _tag_requests(batch: pa.Table) -> pa.Table:
    rows = batch.to_pylist()
    return pa.Table.from_arrays(
        [
            pa.array([r["key"] for r in rows], pa.string()),
            pa.array([REQUEST] * len(rows), pa.int8()),
            pa.array([json.dumps(r) for r in rows], pa.large_string()),
        ],
        schema=TAGGED,
    )


def _decide(group: pa.Table) -> pa.Table:
    kinds, payloads = group.column("kind").to_pylist(), group.column("payload").to_pylist()
    answer = next((json.loads(p) for k, p in zip(kinds, payloads, strict=False) if k == ANSWER), None)
    events = [json.loads(p).get("event", "sent") for k, p in zip(kinds, payloads, strict=False) if k == SENT]
    in_flight = events.count("sent") > events.count("settled")
    out = []
    for kind, payload in zip(kinds, payloads, strict=False):
        if kind != REQUEST:
            continue
        if answer is not None:
            row = {
                **json.loads(payload),
                **{c: v for c, v in answer.items() if c != "key"},
                "error": "",
                "from_store": True,
            }
            out.append((1, 0, 0, json.dumps(row)))
        else:
            out.append((0, 1, int(in_flight), payload))
    key = group.column("key")[0].as_py() if group.num_rows else ""
    return pa.Table.from_arrays(
        [
            pa.array([key] * len(out), pa.string()),
            *(pa.array([o[i] for o in out], pa.int64()) for i in range(3)),
            pa.array([o[3] for o in out], pa.large_string()),
        ],
        schema=DECIDED,
    )


def _rows_where(batch: pa.Table, flag: str) -> pa.Table:
    chosen = batch.filter(pc.equal(batch.column(flag), 1))
    return pa.Table.from_pylist([json.loads(p) for p in chosen.column("payload").to_pylist()])


def lookup(keyed: ray.data.Dataset, store: str) -> Lookup:
    """`keyed` rows (each with its `key`) split into answered and to-send, against `store`."""
    answers, sent = _segments(store, ANSWER_PREFIX), _segments(store, SENT_PREFIX)
    if answers is None and sent is None:  # a new store: nothing to look up
        n = keyed.count()
        return Lookup(keyed.limit(0), keyed, reused=0, sent=n, in_flight=set())
    tagged = keyed.map_batches(_tag_requests, batch_format="pyarrow").union(
        *(d for d in (answers, sent) if d is not None)
    )
    with shuffle_strategy(tagged, "sort"):
        decided = tagged.groupby("key").map_groups(_decide, batch_format="pyarrow").materialize()
    # counts: one small row per block, added up here (an aggregate would be another shuffle)
    per_block = decided.map_batches(_counts, batch_format="pyarrow", batch_size=None).take_all()
    total = {name: sum(r[name] for r in per_block) for name in ("hit", "miss", "in_flight")}
    in_flight = set()
    if total["in_flight"]:
        caught = decided.map_batches(partial(_keys_where, flag="in_flight"), batch_format="pyarrow")
        in_flight = {r["key"] for r in caught.take_all()}
    hits = decided.map_batches(partial(_rows_where, flag="hit"), batch_format="pyarrow")
    misses = decided.map_batches(partial(_rows_where, flag="miss"), batch_format="pyarrow")
    return Lookup(hits, misses, reused=total["hit"], sent=total["miss"], in_flight=in_flight)


def _keys_where(batch: pa.Table, flag: str) -> pa.Table:
    return batch.filter(pc.equal(batch.column(flag), 1)).select(["key"])


def _counts(block: pa.Table) -> pa.Table:
    return pa.table({name: [pc.sum(block.column(name)).as_py() or 0] for name in ("hit", "miss", "in_flight")})
