"""The evaluation stage of the spec_decode job: a Ray task, so on a cluster it runs on a worker."""

from __future__ import annotations

import ray
import ray.data
import torch

from arctic_ray.config.recipe import SpecDecodeRecipe
from arctic_ray.eval.acceptance import evaluate_speculators
from arctic_ray.models.mlp_speculator import MLPSpeculator
from arctic_ray.trainers.speculator import build_speculator, load_frozen_base


@ray.remote(num_cpus=1)
def _evaluate(model_path: str, trained_dir: str, rows: list[dict], recipe: dict) -> dict:
    cfg = SpecDecodeRecipe.model_validate(recipe)
    base = load_frozen_base(model_path, torch.device("cpu"))
    # The untrained speculator is the exact starting point of training (same seed).
    untrained = build_speculator(base, cfg.speculator, cfg.seed)
    speculators = {"untrained": untrained.eval(), "trained": MLPSpeculator.load(trained_dir).eval()}
    bs = cfg.eval.batch_size

    def batches():
        for i in range(0, len(rows), bs):
            chunk = rows[i : i + bs]
            yield {k: torch.as_tensor([r[k] for r in chunk]) for k in ("input_ids", "completion_start", "length")}

    return evaluate_speculators(base, speculators, batches())


def evaluate_holdout(model_path: str, trained_dir: str, holdout: ray.data.Dataset, recipe: SpecDecodeRecipe) -> dict:
    rows = holdout.take(recipe.eval.max_sequences) if recipe.eval.max_sequences else holdout.take_all()
    rows = [{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.items()} for r in rows]
    result = ray.get(_evaluate.remote(model_path, trained_dir, rows, recipe.model_dump(mode="json")))
    result["sequences"] = len(rows)
    return result
