"""Synthesis: request rows in, completions out, through any backend (vllm, openai,
openai_batch, azure_openai, azure_openai_batch, cortex) behind the generation store.

    python pipelines/synth.py                                   # examples/synth.yaml: SmolLM2 on local vLLM
    python pipelines/synth.py --recipe examples/synth_openai.yaml --dry-run   # tokens and cost first
    python pipelines/synth.py --recipe examples/synth_openai.yaml             # then pay
    python pipelines/synth.py --resume runs/synth/<stamp>       # after a crash: sends only what is missing
    ray job submit --working-dir . -- python pipelines/synth.py --recipe examples/synth_openai.yaml

API keys come from the environment or a secrets file (README: "Secrets"), never from the recipe.
"""

import argparse
import sys
from pathlib import Path

from arctic_ray.cli import USER_ERRORS, run_recipe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=str(EXAMPLES / "synth.yaml"), help="recipe YAML (default: examples/synth.yaml)")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="run the recipe of RUN_DIR again, into it (stored answers are not re-sent)"
    )
    p.add_argument("--dry-run", action="store_true", help="estimate tokens and cost, send nothing")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = p.parse_args(argv)
    overrides = [*args.set, *(["dry_run=true"] if args.dry_run else [])]
    try:
        run_recipe(None if args.resume else args.recipe, overrides, args.resume, expect_job="synth")
    except USER_ERRORS as err:
        print(f"synth: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
