"""Run every benchmark: `make bench` (or `python benchmarks/run.py`). Each prints its own
baseline, measured in the same run, and the ratio against it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup
import dpo
import one_pass_features
import packing
import spec_decode
import speculator_loss_step
import store_lookup
import swiftkv
import synth

if __name__ == "__main__":
    speculator_loss_step.main()
    packing.main()
    synth.main([])
    dedup.main([])
    store_lookup.main([])
    spec_decode.main([])
    one_pass_features.main([])
    swiftkv.main([])
    dpo.main([])
