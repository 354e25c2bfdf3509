"""`arctic-ray`: run or validate a recipe, deduplicate a table, retrain a drafter on a run's stored
features, materialise a built-in model, list building blocks."""

from __future__ import annotations

import argparse
import sys

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.run_dir import RECIPE_FILE
from arctic_ray.core.storage import location
from arctic_ray.jobs import job_names, load_recipe, lookup_job

# Errors that are the user's to fix: print the message, not a traceback from deep inside Ray.
USER_ERRORS = (ArcticRayError, FileNotFoundError)


def run_recipe(
    path: str | None, overrides: list[str], resume: str | None = None, expect_job: str | None = None
) -> dict:
    """Run a recipe; with `resume`, the recipe of that run directory, into it again (stored
    generations are found by key, so nothing already generated is generated again)."""
    if resume:
        path = location(resume).join(RECIPE_FILE).uri
    if path is None:
        raise ArcticRayError("give a recipe file or --resume RUN_DIR")
    recipe = load_recipe(path, overrides)
    if expect_job and recipe.type != expect_job:
        raise ArcticRayError(f"{path} is a {recipe.type} recipe, not {expect_job}")
    return lookup_job(recipe.type).run(recipe, resume)


def _cmd_run(args) -> int:
    if not args.recipe and not args.resume:
        raise ArcticRayError("give a recipe file or --resume RUN_DIR")
    run_recipe(args.recipe, args.set, args.resume)
    return 0


def _cmd_synth(args) -> int:
    if not args.recipe and not args.resume:
        raise ArcticRayError("give a synth recipe file or --resume RUN_DIR")
    overrides = [*args.set, *(["dry_run=true"] if args.dry_run else [])]
    run_recipe(args.recipe, overrides, args.resume, expect_job="synth")
    return 0


def _cmd_validate(args) -> int:
    recipe = load_recipe(args.recipe, args.set)
    print(f"{args.recipe}: valid {recipe.type} recipe")
    return 0


def _cmd_model(args) -> int:
    from arctic_ray.models.resolve import resolve_model

    print(resolve_model(args.name))
    return 0


def _cmd_dedup(args) -> int:
    from arctic_ray.curate.dedup.files import dedup_command

    options = {k: getattr(args, k) for k in DEDUP_OPTIONS}
    summary = dedup_command(args.input, args.output, exact=args.exact, renumber=args.renumber, **options)
    for line in summary.lines():
        print(f"arctic-ray dedup: {line}")
    return 0


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


def _add_dedup(sub) -> None:
    from arctic_ray.curate.dedup.config import DedupConfig

    d = DedupConfig()
    cmd = sub.add_parser("dedup", help="remove near-duplicate rows (MinHash LSH) from a JSONL / parquet table")
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
    cmd.set_defaults(fn=_cmd_dedup)


def _cmd_retrain(args) -> int:
    from arctic_ray.methods.spec_decode.retrain import retrain

    m = retrain(args.run_dir, args.set, args.name)
    sim = m["eval_history"][-1]
    print(
        f"arctic-ray retrain: tau_sim {sim['tau_sim']:.3f}, "
        f"acceptance by position {[round(a, 3) for a in sim['accept_per_pos']]}"
    )
    print(f"arctic-ray retrain: drafter {m['drafter_dir']}")
    return 0


def _cmd_list(args) -> int:
    from arctic_ray.core.registry import kinds, names

    job_names()  # discovers the methods, and with them their trainers
    for kind in kinds():
        print(f"{kind}: {', '.join(names(kind))}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arctic-ray", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, fn, help_ in (("run", _cmd_run, "run a recipe"), ("validate", _cmd_validate, "check a recipe")):
        cmd = sub.add_parser(name, help=help_)
        cmd.add_argument("recipe", nargs="?" if name == "run" else None, help="recipe YAML file")
        cmd.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="override a field, e.g. train.epochs=2"
        )
        if name == "run":
            cmd.add_argument("--resume", metavar="RUN_DIR", help="run the recipe of RUN_DIR again, into it")
        cmd.set_defaults(fn=fn)
    synth = sub.add_parser("synth", help="run a synthesis recipe (job: synth)")
    synth.add_argument("recipe", nargs="?", help="recipe YAML file")
    synth.add_argument("--dry-run", action="store_true", help="estimate tokens and cost, send nothing")
    synth.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="run the recipe of RUN_DIR again: only rows without a stored answer are sent",
    )
    synth.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    synth.set_defaults(fn=_cmd_synth)
    _add_dedup(sub)
    retrain = sub.add_parser("retrain", help="train another drafter on a spec_decode run's stored target features")
    retrain.add_argument("run_dir", help="a finished spec_decode run directory (offline, engine features)")
    retrain.add_argument("--name", default="drafter", help="writes RUN_DIR/retrain/NAME (default drafter)")
    retrain.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a field, e.g. speculator.loss=tv"
    )
    retrain.set_defaults(fn=_cmd_retrain)
    model = sub.add_parser("model", help="build or convert a built-in model and print its path")
    model.add_argument("name", help="tiny, tiny2 or smollm2-135m-instruct")
    model.set_defaults(fn=_cmd_model)
    sub.add_parser("list", help="list registered building blocks").set_defaults(fn=_cmd_list)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except USER_ERRORS as err:
        print(f"arctic-ray: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
