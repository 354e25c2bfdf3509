"""Another drafter from a finished run's stored target features (`features/train`,
`features/eval`), with other drafter or training settings: no generation, no engine, only the
training workers. The benchmark's ablations use it; so can a user trying settings
(`arctic-ray retrain RUN_DIR --set speculator.loss=tv`)."""

from __future__ import annotations

import argparse
from typing import cast

import numpy as np
import ray.data
import torch

from arctic_ray.core.commands import command
from arctic_ray.core.recipe import read_recipe, validate_against
from arctic_ray.core.run_dir import RECIPE_FILE
from arctic_ray.core.runtime import init_ray
from arctic_ray.core.storage import location
from arctic_ray.methods.spec_decode.engine_features import FEATURES_DIR, with_features_only
from arctic_ray.methods.spec_decode.recipe import SpecDecodeRecipe
from arctic_ray.methods.spec_decode.sizing import sized
from arctic_ray.methods.spec_decode.trainer import SpeculatorMethod
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.run import TrainRun
from arctic_ray.train.torch_trainer import export_location, run_trainer, train_metrics


def completion_token_counts(rows: ray.data.Dataset, vocab_size: int) -> torch.Tensor:
    """How often each token id occurs in the rows' completions (what a draft vocabulary is chosen from)."""

    def count(batch: dict[str, np.ndarray]) -> dict:
        ids = [
            row[s:n] for row, s, n in zip(batch["input_ids"], batch["completion_start"], batch["length"], strict=False)
        ]
        return {"counts": [np.bincount(np.concatenate(ids).astype(np.int64), minlength=vocab_size)[:vocab_size]]}

    total = np.zeros(vocab_size, dtype=np.int64)
    for row in (
        rows.select_columns(["input_ids", "completion_start", "length"])
        .map_batches(count, batch_format="numpy")  # pyright: ignore[reportArgumentType]  # Ray types fn for any batch format
        .iter_rows()
    ):
        total += row["counts"]
    return torch.from_numpy(total)


def retrain(run_dir: str, overrides: list[str], name: str) -> dict:
    """Train under `<run_dir>/retrain/<name>` with the run's recipe and `overrides`; its train
    metrics (the simulated acceptance on the run's held-out prompts) and `drafter_dir`."""
    from transformers import AutoConfig

    run = location(run_dir)
    source = run.join(RECIPE_FILE).uri
    recipe = cast(
        SpecDecodeRecipe, validate_against(SpecDecodeRecipe, read_recipe(source, overrides), source, "spec_decode")
    )
    features = run.join(FEATURES_DIR)
    if not features.join("train").exists():
        raise FileNotFoundError(
            f"{run_dir}: no stored target features ({FEATURES_DIR}/train); "
            "run the job with speculator.target_features: engine, offline"
        )
    init_ray(recipe.ray)
    recipe = sized(recipe)
    model = ModelRef.of(recipe.model.name_or_path)
    train = with_features_only(ray.data.read_parquet(features.join("train").path, filesystem=features.fs))
    evals = with_features_only(ray.data.read_parquet(features.join("eval").path, filesystem=features.fs))
    if recipe.speculator.target_features == "hf":  # the workers compute them again with the whole base
        train, evals = train.drop_columns(["features"]), evals.drop_columns(["features"])
    evals = evals.materialize()
    vocab = AutoConfig.from_pretrained(model.files()).vocab_size
    counts = completion_token_counts(train, vocab) if recipe.speculator.uses_token_counts else None
    storage = run.join("retrain", name)
    result = run_trainer(
        TrainRun(
            trainer="speculator",
            train=recipe,
            method=SpeculatorMethod(model, recipe.speculator, recipe.seed, counts),
            datasets={"train": train, "eval": evals},
            storage=storage,
            num_rows=train.count(),
            seed=recipe.seed,
        )
    )
    return {
        **train_metrics(result),
        "drafter_dir": export_location(result, storage),
        "speculator": recipe.speculator.model_dump(),
    }


def _retrain_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("run_dir", help="a finished spec_decode run directory (offline, engine features)")
    cmd.add_argument("--name", default="drafter", help="writes RUN_DIR/retrain/NAME (default drafter)")
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. speculator.loss=tv",
    )


@command(
    "retrain",
    help="train another drafter on a spec_decode run's stored target features",
    configure=_retrain_arguments,
)
def _run_retrain(args: argparse.Namespace) -> int:
    m = retrain(args.run_dir, args.set, args.name)
    sim = m["eval_history"][-1]
    print(
        f"arctic-ray retrain: tau_sim {sim['tau_sim']:.3f}, "
        f"acceptance by position {[round(a, 3) for a in sim['accept_per_pos']]}"
    )
    print(f"arctic-ray retrain: drafter {m['drafter_dir']}")
    return 0
