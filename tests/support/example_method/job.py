import argparse

import ray.data

from arctic_ray.core.commands import command
from arctic_ray.core.recipe import job
from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.runtime import init_ray
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import run_trainer, train_metrics
from tests.support.example_method.recipe import LineRecipe


@job("line_fit", LineRecipe)
def run_line_fit(recipe: LineRecipe, run_dir=None) -> dict:
    run = JobRun(recipe, run_dir)
    init_ray(recipe.ray)
    rows = [{"x": i / recipe.rows, "y": recipe.slope * i / recipe.rows} for i in range(recipe.rows)]
    result = run_trainer(
        TrainRun(
            trainer="line_fit",
            train=recipe,
            method=None,
            datasets={"train": ray.data.from_items(rows)},
            storage=run.loc,
            num_rows=len(rows),
        )
    )
    return run.finish({"train": train_metrics(result)}, lambda m: f"slope {m['train']['slope']:.3f}\n")


def _line_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("x", type=float)


@command("line-at", help="the example method's own subcommand: the line's value at x", configure=_line_arguments)
def _line_at(args: argparse.Namespace) -> int:
    print(f"line-at: {LineRecipe().slope * args.x:g}")
    return 0
