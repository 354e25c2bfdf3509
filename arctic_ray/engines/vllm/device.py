"""What an engine runs on, in words: recorded beside a throughput so the number says where it was
measured (tok/s on one machine is no promise for another)."""

from __future__ import annotations

import os
import platform

from arctic_ray.engines.vllm.settings import VLLMEngineConfig


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.machine()


def engine_device(engine: VLLMEngineConfig) -> str:
    """Called where the engine runs: vLLM's version, the device and the dtype."""
    import torch
    import vllm

    if engine.on_gpu:
        device = f"{torch.cuda.get_device_name()} ({engine.gpus_per_engine:g} GPU)"
    else:
        device = f"CPU {_cpu_model()} ({os.environ.get('OMP_NUM_THREADS', os.cpu_count())} threads)"
    return f"vLLM {vllm.__version__}, {device}, {engine.dtype}"
