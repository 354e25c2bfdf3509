"""Rebuild the SwiftKV student from its `llama_swiftkv` export: the Llama config it was made
from, the SwiftKV modules in place, every weight from the file and none left unset (a name
missing or left over is an error, not a silently random weight). An AcrossKV group's copies
of its k/v projection must agree; the group's first layer holds it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.methods.swiftkv.export import MODEL_TYPE, WEIGHTS
from arctic_ray.methods.swiftkv.model import SwiftKVModel


class SwiftKVExportError(ArcticRayError):
    pass


def load_swiftkv(path: str | Path, dtype: torch.dtype = torch.float32) -> SwiftKVModel:
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    raw = json.loads((path / "config.json").read_text())
    if raw.get("model_type") != MODEL_TYPE:
        raise SwiftKVExportError(f"{path}: model_type is {raw.get('model_type')!r}, not {MODEL_TYPE!r}")
    k, g = raw.pop("num_key_value_layers"), raw.pop("key_value_group_size", 1)
    for key in ("model_type", "architectures", "torch_dtype"):
        raw.pop(key, None)
    config = LlamaConfig(**raw)
    with torch.device("meta"):
        base = LlamaForCausalLM(config)
    model = SwiftKVModel(base, k, g, keep_teacher=False)
    weights = load_file(str(path / WEIGHTS))
    for i in model.swiftkv_layers:
        o = model.owner(i)
        if o == i:
            continue
        for proj in ("k_proj_swiftkv", "v_proj_swiftkv"):
            for suffix in ("weight", "bias"):
                copy = weights.pop(f"model.layers.{i}.self_attn.{proj}.{suffix}", None)
                if copy is not None and not torch.equal(copy, weights[f"model.layers.{o}.self_attn.{proj}.{suffix}"]):
                    raise SwiftKVExportError(
                        f"{path}: layer {i}'s {proj} differs from its group's (layer {o}); "
                        f"not an AcrossKV export of group size {g}"
                    )
    missing, unexpected = base.load_state_dict(weights, strict=False, assign=True)
    if config.tie_word_embeddings:
        base.lm_head.weight = base.model.embed_tokens.weight  # one tensor, as the base had
        missing = [m for m in missing if m != "lm_head.weight"]
    if missing or unexpected:
        raise SwiftKVExportError(f"{path}: weights missing {missing[:5]}, unexpected {unexpected[:5]}")
    # buffers (rotary inverse frequencies) are not in the file: rebuilt on the CPU
    base.model.rotary_emb = type(base.model.rotary_emb)(config=config)
    return model.to(dtype).eval()
