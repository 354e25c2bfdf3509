"""SwiftKV: a Llama-family model whose later layers take their KV from one earlier layer's
output, distilled from the original -> an export in Arctic Inference's `llama_swiftkv` format,
reloaded and its prefill measured against the original.

    python pipelines/swiftkv.py                                    # examples/swiftkv_smollm2.yaml
    python pipelines/swiftkv.py --recipe examples/swiftkv_tiny.yaml
    python pipelines/swiftkv.py --set model.num_key_value_layers=20
    ray job submit --working-dir . -- python pipelines/swiftkv.py --recipe examples/swiftkv_gpu.yaml
"""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS
from arctic_ray.jobs import load_recipe, lookup_job

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--recipe",
        default=str(EXAMPLES / "swiftkv_smollm2.yaml"),
        help="recipe YAML (default: examples/swiftkv_smollm2.yaml)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.set)
        if recipe.type != "swiftkv":
            raise ValueError(f"{args.recipe} is a {recipe.type} recipe, not swiftkv")
        lookup_job("swiftkv").run(recipe)
    except (*USER_ERRORS, ValueError) as err:
        print(f"swiftkv: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
