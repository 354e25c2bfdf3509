"""The SwiftKV student in the format Arctic Inference serves (`model_type: llama_swiftkv`): the
base's Llama config plus `num_key_value_layers` (and `key_value_group_size`, which Arctic
Inference 0.3.0 does not read); weights under the names its `load_weights` maps (`k_proj_swiftkv`
and `v_proj_swiftkv` fused into its `kv_proj_swiftkv`, `q_proj_swiftkv`, `model.norm_swiftkv`).
It has a k/v projection per later layer, so an AcrossKV group's shared projection is written
for every member: the output serves as is, and the loader here finds the group again. The
later layers' own q/k/v projections, which only the teacher used, are left out. The tokenizer
and its chat template go beside the weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import torch
from safetensors.torch import save_file
from transformers import PretrainedConfig

from arctic_ray.methods.swiftkv.model import SwiftKVModel

MODEL_TYPE = "llama_swiftkv"
ARCHITECTURE = "LlamaSwiftKVForCausalLM"
WEIGHTS = "model.safetensors"


def swiftkv_config(model: SwiftKVModel) -> dict:
    cfg = cast(PretrainedConfig, model.base.config).to_dict()
    for key in ("architectures", "model_type", "transformers_version", "dtype", "torch_dtype", "_name_or_path"):
        cfg.pop(key, None)
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return {
        **cfg,
        "architectures": [ARCHITECTURE],
        "model_type": MODEL_TYPE,
        "torch_dtype": dtype,
        "num_key_value_layers": model.num_key_value_layers,
        "key_value_group_size": model.group_size,
    }


def swiftkv_weights(model: SwiftKVModel) -> dict[str, torch.Tensor]:
    state = {k: v for k, v in model.base.state_dict().items()}
    if cast(PretrainedConfig, model.base.config).tie_word_embeddings:
        state.pop("lm_head.weight", None)
    out = {}
    for name, tensor in state.items():
        parts = name.split(".")
        if (
            parts[:2] == ["model", "layers"]
            and int(parts[2]) >= model.num_key_value_layers
            and parts[4] in ("q_proj", "k_proj", "v_proj")
        ):
            continue  # the teacher's projections of a SwiftKV layer
        out[name] = tensor.detach().contiguous().clone()
    for i in model.swiftkv_layers:
        o = model.owner(i)
        for proj in ("k_proj_swiftkv", "v_proj_swiftkv"):
            for suffix in ("weight", "bias"):
                key = f"model.layers.{o}.self_attn.{proj}.{suffix}"
                if key in out:
                    out[f"model.layers.{i}.self_attn.{proj}.{suffix}"] = out[key].clone()
    return out


def export_swiftkv(model: SwiftKVModel, tokenizer_path: str, path: str | Path) -> Path:
    from transformers import AutoTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(swiftkv_config(model), indent=2) + "\n")
    save_file(swiftkv_weights(model), str(path / WEIGHTS), metadata={"format": "pt"})
    AutoTokenizer.from_pretrained(tokenizer_path).save_pretrained(str(path))  # with its chat template
    return path
