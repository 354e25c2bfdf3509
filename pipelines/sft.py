"""Supervised fine-tuning: chat sources -> assistant-only labels -> multipacked sequences ->
Ray Train + DeepSpeed ZeRO-2 -> a Hugging Face export that transformers and vLLM load.

    python pipelines/sft.py                                      # examples/sft.yaml: the tiny model, ~2 min on 2 cores
    python pipelines/sft.py --recipe examples/sft_moe.yaml --set model.freeze_router=true
    python pipelines/sft.py --recipe examples/sft_smollm2.yaml
    ray job submit --working-dir . -- python pipelines/sft.py --recipe examples/sft_gpu.yaml

Synthesised, judged and deduplicated data comes from the synthesis job (`pipelines/synth.py`
with `curate:` steps): point a source at its `curated/` directory.
"""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS, run_recipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=str(EXAMPLES / "sft.yaml"), help="recipe YAML (default: examples/sft.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    try:
        run_recipe(args.recipe, args.set, expect_job="sft")
    except USER_ERRORS as err:
        print(f"sft: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
