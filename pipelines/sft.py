"""Supervised fine-tuning: chat sources -> assistant-only labels -> multipacked sequences ->
Ray Train + DeepSpeed ZeRO-2 -> a Hugging Face export that transformers and vLLM load.

    python pipelines/sft.py                                      # examples/sft.yaml: the tiny model, ~2 min on 2 cores
    python pipelines/sft.py --recipe examples/sft_moe.yaml --set model.freeze_router=true
    python pipelines/sft.py --recipe examples/sft_smollm2.yaml
    python pipelines/sft.py --synth examples/synth_sft.yaml      # synthesis -> judges -> dedup -> SFT
    ray job submit --working-dir . -- python pipelines/sft.py --recipe examples/sft_gpu.yaml

With `--synth`, the synthesis recipe runs first (its `curate:` steps judge and deduplicate the
answers), and its kept rows (`curated/`, or `completions/` without steps) join the SFT sources.
"""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS, run_recipe
from arctic_ray.jobs import load_recipe, lookup_job
from arctic_ray.methods.sft.config import SFTSource
from arctic_ray.methods.sft.recipe import SFTRecipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def synthesized_source(synth_recipe: str, overrides: list[str]) -> SFTSource:
    run_dir = Path(run_recipe(synth_recipe, overrides, expect_job="synth")["run_dir"])
    kept = run_dir / "curated" if (run_dir / "curated").is_dir() else run_dir / "completions"
    return SFTSource(path=kept, name="synthesized")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=str(EXAMPLES / "sft.yaml"), help="recipe YAML (default: examples/sft.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument(
        "--synth", metavar="RECIPE", help="a synthesis recipe to run first; its kept rows become one more source"
    )
    p.add_argument(
        "--synth-set", action="append", default=[], metavar="KEY=VALUE", help="override a field of the synthesis recipe"
    )
    args = p.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.set)
        if not isinstance(recipe, SFTRecipe):
            raise ValueError(f"{args.recipe} is a {recipe.type} recipe, not sft")
        if args.synth:
            recipe.data.sources.append(synthesized_source(args.synth, args.synth_set))
        lookup_job("sft").run(recipe)
    except (*USER_ERRORS, ValueError) as err:
        print(f"sft: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
