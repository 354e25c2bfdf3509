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

import sys

from arctic_ray.pipeline import Before, script_main

if __name__ == "__main__":
    sys.exit(
        script_main(
            job="sft",
            recipe="sft.yaml",
            doc=__doc__,
            before=Before("--synth", "a synthesis recipe to run first; its kept rows become one more source"),
        )
    )
