"""The main job: train a speculative-decoding speculator from vLLM generations.

    python pipelines/spec_decode.py                 # SmolLM2-135M-Instruct, local Ray, ~8 min on 2 CPU cores
    python pipelines/spec_decode.py --tiny          # the same job on a tiny model, ~2 min
    python pipelines/spec_decode.py --set train.epochs=2 --set output_dir=/data/runs
    ray job submit --working-dir . -- python pipelines/spec_decode.py

The stages are in arctic_ray/jobs/spec_decode.py; the recipe in examples/spec_decode.yaml."""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS, run_recipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="recipe YAML (default: examples/spec_decode.yaml)")
    p.add_argument("--tiny", action="store_true", help="use examples/spec_decode_tiny.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    recipe = args.recipe or EXAMPLES / ("spec_decode_tiny.yaml" if args.tiny else "spec_decode.yaml")
    try:
        run_recipe(str(recipe), args.set)
    except USER_ERRORS as err:
        print(f"spec_decode: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
