"""The main job: train a speculative-decoding drafter for a base model and measure it in vLLM.

    python pipelines/spec_decode.py                 # SmolLM2-135M-Instruct, EAGLE-3, local Ray, ~11 min on 2 CPU cores
    python pipelines/spec_decode.py --tiny          # the same job on a tiny model, ~2.5 min
    python pipelines/spec_decode.py --set teacher.mode=online --set max_steps=200
    python pipelines/spec_decode.py --resume runs/spec_decode/20261125-101500
    ray job submit --working-dir . -- python pipelines/spec_decode.py

The stages are in arctic_ray/methods/spec_decode/job.py; the recipe in examples/spec_decode.yaml."""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS, run_recipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="recipe YAML (default: examples/spec_decode.yaml)")
    p.add_argument("--tiny", action="store_true", help="use examples/spec_decode_tiny.yaml")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="run the recipe of RUN_DIR again, into it (stored generations are reused)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    recipe = args.recipe or EXAMPLES / ("spec_decode_tiny.yaml" if args.tiny else "spec_decode.yaml")
    try:
        run_recipe(None if args.resume else str(recipe), args.set, args.resume)
    except USER_ERRORS as err:
        print(f"spec_decode: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
