"""Preference data: prompts -> n sampled answers each (any synthesis backend) -> one judge (a
reward model, a pairwise LLM judge asked in both orders, or a verifier against reference answers)
-> pairs in TRL's conversational format, every sample accounted for.

    python pipelines/preference.py        # examples/preference.yaml: tiny model, reward model
    python pipelines/preference.py --recipe examples/preference_verify.yaml   # SmolLM2 on arithmetic, verified
    ray job submit --working-dir . -- python pipelines/preference.py --recipe examples/preference_verify.yaml
"""

import sys

from arctic_ray.pipeline import script_main

if __name__ == "__main__":
    sys.exit(script_main(job="preference", recipe="preference.yaml", doc=__doc__))
