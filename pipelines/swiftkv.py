"""SwiftKV: a Llama-family model whose later layers take their KV from one earlier layer's
output, distilled from the original -> an export in Arctic Inference's `llama_swiftkv` format,
reloaded and its prefill measured against the original.

    python pipelines/swiftkv.py                                    # examples/swiftkv_smollm2.yaml
    python pipelines/swiftkv.py --recipe examples/swiftkv_tiny.yaml
    python pipelines/swiftkv.py --set model.num_key_value_layers=20
    ray job submit --working-dir . -- python pipelines/swiftkv.py --recipe examples/swiftkv_gpu.yaml
"""

import sys

from arctic_ray.pipeline import script_main

if __name__ == "__main__":
    sys.exit(script_main(job="swiftkv", recipe="swiftkv_smollm2.yaml", doc=__doc__, tiny="swiftkv_tiny.yaml"))
