"""The main job: train a speculative-decoding drafter for a base model and measure it in vLLM.

    python pipelines/spec_decode.py                 # SmolLM2-135M-Instruct, EAGLE-3, local Ray, ~11 min on 2 CPU cores
    python pipelines/spec_decode.py --tiny          # the same job on a tiny model, ~2.5 min
    python pipelines/spec_decode.py --set teacher.mode=online --set max_steps=200
    python pipelines/spec_decode.py --resume runs/spec_decode/20261125-101500
    ray job submit --working-dir . -- python pipelines/spec_decode.py

The stages are in arctic_ray/methods/spec_decode/job.py; the recipe in examples/spec_decode.yaml."""

import sys

from arctic_ray.pipeline import script_main

if __name__ == "__main__":
    sys.exit(script_main(job="spec_decode", recipe="spec_decode.yaml", doc=__doc__, tiny="spec_decode_tiny.yaml"))
