"""Synthesis: request rows in, completions out, through any backend (vllm, openai,
openai_batch, azure_openai, azure_openai_batch, cortex) behind the generation store.

    python pipelines/synth.py                                   # examples/synth.yaml: SmolLM2 on local vLLM
    python pipelines/synth.py --recipe examples/synth_openai.yaml --dry-run   # tokens and cost first
    python pipelines/synth.py --recipe examples/synth_openai.yaml             # then pay
    python pipelines/synth.py --resume runs/synth/<stamp>       # after a crash: sends only what is missing
    ray job submit --working-dir . -- python pipelines/synth.py --recipe examples/synth_openai.yaml

API keys come from the environment or a secrets file (README: "Secrets"), never from the recipe.
"""

import sys

from arctic_ray.pipeline import script_main

if __name__ == "__main__":
    sys.exit(
        script_main(
            job="synth",
            recipe="synth.yaml",
            doc=__doc__,
            switches={"--dry-run": ("dry_run=true", "estimate tokens and cost, send nothing")},
        )
    )
