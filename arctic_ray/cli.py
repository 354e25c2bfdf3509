"""`arctic-ray`: run or validate recipes (several in sequence with `--then`), list the registered
building blocks, materialise a built-in model, write the recipe reference; and the subcommands that
methods and stages register where they are defined (`synth`, `retrain`, `dedup`, ...)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from arctic_ray.core.commands import Command
from arctic_ray.core.registry import home, kinds, lookup, names
from arctic_ray.job_table import job_names, load_recipe, lookup_job
from arctic_ray.pipeline import USER_ERRORS, Step, run_sequence

home("command", "arctic_ray.methods", "arctic_ray.curate")  # where subcommands are defined

REFERENCE = Path("docs/reference/recipes.md")


def _cmd_run(args) -> int:
    steps = [Step(None if args.resume else args.recipe, args.set, args.resume)]
    steps += [Step(then, args.then_set) for then in args.then]
    if steps[0].recipe is None and not args.resume:
        raise FileNotFoundError("give a recipe file or --resume RUN_DIR")
    run_sequence(steps)
    return 0


def _cmd_validate(args) -> int:
    recipe = load_recipe(args.recipe, args.set)
    print(f"{args.recipe}: valid {recipe.type} recipe")
    return 0


def _cmd_model(args) -> int:
    from arctic_ray.models.resolve import resolve_model

    print(resolve_model(args.name))
    return 0


def _cmd_list(args) -> int:
    job_names()  # discovers the methods, and with them their trainers
    for kind in kinds():
        print(f"{kind}: {', '.join(names(kind))}")
    return 0


def recipe_reference() -> str:
    """The reference of the package's own jobs (a plugin's jobs document themselves)."""
    from arctic_ray.core.recipe_reference import render_reference

    jobs = [lookup_job(name) for name in job_names()]
    return render_reference({j.name: j.recipe for j in jobs if j.run.__module__.startswith("arctic_ray.")})


def _cmd_reference(args) -> int:
    text = recipe_reference()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"arctic-ray reference: wrote {args.output}")
    return 0


class _WholeNamesFormatter(argparse.HelpFormatter):
    """Wraps help text between words only: a model name like smollm2-long stays one piece."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def parser() -> argparse.ArgumentParser:
    from arctic_ray.models.resolve import builtin_models

    p = argparse.ArgumentParser(prog="arctic-ray", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe (and more after it with --then)")
    run.add_argument("recipe", nargs="?", help="recipe YAML file")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    run.add_argument("--resume", metavar="RUN_DIR", help="run the recipe of RUN_DIR again, into it")
    run.add_argument(
        "--then", action="append", default=[], metavar="RECIPE", help="a recipe to run after, on its output"
    )
    run.add_argument("--then-set", action="append", default=[], metavar="KEY=VALUE", help="override a --then field")
    run.set_defaults(fn=_cmd_run)
    validate = sub.add_parser("validate", help="check a recipe")
    validate.add_argument("recipe", help="recipe YAML file")
    validate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    validate.set_defaults(fn=_cmd_validate)
    model = sub.add_parser(
        "model", help="build or convert a built-in model and print its path", formatter_class=_WholeNamesFormatter
    )
    model.add_argument("name", help=", ".join(builtin_models()))
    model.set_defaults(fn=_cmd_model)
    sub.add_parser("list", help="list registered building blocks").set_defaults(fn=_cmd_list)
    reference = sub.add_parser("reference", help="write the recipe reference (from the recipe schemas)")
    reference.add_argument("--output", default=str(REFERENCE), help=f"a file, or - for stdout (default {REFERENCE})")
    reference.set_defaults(fn=_cmd_reference)
    for name in names("command"):
        registered: Command = lookup("command", name)
        cmd = sub.add_parser(name, help=registered.help)
        registered.configure(cmd)
        cmd.set_defaults(fn=registered.run)
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
