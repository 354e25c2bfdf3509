"""`arctic-ray dedup`: the command line of `dedup_files` (its options are `DedupConfig`'s), on
the Ray this process joins or starts."""

from __future__ import annotations

import argparse
from pathlib import Path

import ray
from pydantic import ValidationError

from arctic_ray.core.commands import command
from arctic_ray.core.runtime import RayConfig, init_ray
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.files import DedupInputError, DedupSummary, dedup_files


def dedup_command(
    input: str | Path, output: str | Path, exact: bool = False, renumber: bool = False, **options
) -> DedupSummary:
    """`arctic-ray dedup`: DedupConfig from the command's options (None: the default; a list of
    one field: that field), Ray joined (RAY_ADDRESS, or the Ray this process already runs) or
    started locally and stopped again, then `dedup_files`."""
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(options.get("field"), list) and len(options["field"]) == 1:
        options["field"] = options["field"][0]
    try:
        cfg = DedupConfig(**options)
    except ValidationError as err:
        e = err.errors()[0]
        raise DedupInputError(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}") from None
    started = not ray.is_initialized()
    init_ray(RayConfig())
    try:
        return dedup_files(input, output, cfg, exact=exact, renumber=renumber)
    finally:
        if started:
            ray.shutdown()


DEDUP_OPTIONS = (
    "field",
    "threshold",
    "num_perm",
    "ngram",
    "shingle",
    "survivor_score",
    "max_cluster_size",
    "drop_giant_clusters",
)


def _dedup_arguments(cmd: argparse.ArgumentParser) -> None:
    d = DedupConfig()
    cmd.add_argument("input", help="a JSONL file, a parquet file or a directory of parquet files")
    cmd.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="writes DIR/kept/ and DIR/duplicates/ (parquet) and DIR/summary.json",
    )
    cmd.add_argument(
        "--field",
        action="append",
        metavar="COLUMN",
        help=f"text column compared (repeat to join columns; default {d.field})",
    )
    cmd.add_argument(
        "--threshold",
        type=float,
        default=d.threshold,
        help=f"Jaccard similarity of near-duplicates (default {d.threshold})",
    )
    cmd.add_argument("--num-perm", type=int, default=d.num_perm, help=f"MinHash permutations (default {d.num_perm})")
    cmd.add_argument("--ngram", type=int, default=d.ngram, help=f"shingle size (default {d.ngram})")
    cmd.add_argument(
        "--shingle",
        choices=("word", "char"),
        default=d.shingle,
        help=f"shingles of words or characters (default {d.shingle})",
    )
    cmd.add_argument(
        "--survivor-score",
        metavar="COLUMN",
        help="keep the highest value of this column in each group (default: the smallest id)",
    )
    cmd.add_argument("--exact", action="store_true", help="remove exact duplicates (normalised case and space) first")
    cmd.add_argument(
        "--max-cluster-size",
        type=int,
        default=d.max_cluster_size,
        help=f"report larger groups and keep their rows (default {d.max_cluster_size})",
    )
    cmd.add_argument(
        "--drop-giant-clusters", action="store_true", help="remove the duplicates of reported giant groups too"
    )
    cmd.add_argument(
        "--renumber",
        action="store_true",
        help="number the rows by position as `id` (the input's id becomes `source_id`)",
    )


@command(
    "dedup",
    help="remove near-duplicate rows (MinHash LSH) from a JSONL / parquet table",
    configure=_dedup_arguments,
)
def _run_dedup(args: argparse.Namespace) -> int:
    options = {k: getattr(args, k) for k in DEDUP_OPTIONS}
    summary = dedup_command(args.input, args.output, exact=args.exact, renumber=args.renumber, **options)
    for line in summary.lines():
        print(f"arctic-ray dedup: {line}")
    return 0
