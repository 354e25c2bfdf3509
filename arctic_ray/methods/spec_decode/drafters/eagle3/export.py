"""The EAGLE-3 drafter on disk, in the layout vLLM loads with
`speculative_config={"method": "eagle3", "model": DIR, "num_speculative_tokens": k}`:
a Llama `config.json` plus the EAGLE-3 fields, and `model.safetensors` with the decoder layer
under `layers.0.`, `fc`, `norm`, `lm_head` and (for a reduced vocabulary) `d2t`/`t2d`; no
`embed_tokens`, so vLLM shares the target's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import torch
from transformers import LlamaConfig

from arctic_ray.methods.spec_decode.drafters.eagle3.model import Eagle3Drafter
from arctic_ray.models.identity import IDENTITY_KEY

WEIGHTS_FILE = "model.safetensors"
# Module names inside Eagle3Drafter that vLLM reads under `layers.0.`.
_LAYER_MODULES = ("self_attn.", "mlp.", "input_layernorm.", "hidden_norm.", "post_attention_layernorm.")


def _file_key(name: str) -> str:
    return f"layers.0.{name}" if name.startswith(_LAYER_MODULES) else name


def _module_key(name: str) -> str:
    return name.removeprefix("layers.0.")


def save_eagle3(drafter: Eagle3Drafter, path: str | Path, identity: dict) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    cfg = drafter.config
    reduced = cfg.draft_vocab_size < cfg.vocab_size
    state = {}
    for name, tensor in drafter.state_dict().items():
        if name in ("d2t", "t2d") and not reduced:
            continue  # vLLM expects no mapping when the vocabularies are equal
        state[_file_key(name)] = (
            tensor.detach().to("cpu", torch.float32 if tensor.is_floating_point() else tensor.dtype).contiguous()
        )
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": "pt"})
    config = cfg.to_dict()
    config["architectures"] = ["LlamaForCausalLM"]
    config["torch_dtype"] = "float32"
    # transformers 4.x readers (stock vLLM on older stacks) look for rope_theta at the top level;
    # LlamaConfig always fills rope_parameters in
    config["rope_theta"] = cast(dict, cfg.rope_parameters)["rope_theta"]
    config[IDENTITY_KEY] = identity
    (path / "config.json").write_text(json.dumps(config, indent=2, default=str))
    return path


def load_eagle3(path: str | Path) -> Eagle3Drafter:
    from safetensors.torch import load_file

    path = Path(path)
    raw = json.loads((path / "config.json").read_text())
    raw.pop(IDENTITY_KEY, None)
    drafter = Eagle3Drafter(LlamaConfig.from_dict(raw))
    state = {_module_key(k): v for k, v in load_file(str(path / WEIGHTS_FILE)).items()}
    missing, unexpected = drafter.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"d2t", "t2d"}:
        raise ValueError(f"{path}: not an EAGLE-3 drafter (missing {missing}, unexpected {unexpected})")
    return drafter
