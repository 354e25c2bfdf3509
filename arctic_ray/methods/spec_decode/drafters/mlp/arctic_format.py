"""The MLP speculator in Arctic Inference's format (checked against arctic-inference's
`ArcticMLPSpeculator` and vLLM's `MLPSpeculatorConfig`): `config.json` with `model_type:
mlp_speculator`, `architectures: ["ArcticMLPSpeculatorPreTrainedModel"]`, and
`model.safetensors` with `emb.i.weight` [V, D], `proj.0.weight` [D, H], `proj.i.weight` [D, D],
`head.i.weight` [V, D], `ln.i.weight`/`ln.i.bias` [D], no prefix.

Arctic's `tie_weights` shares one module across heads, which is not what this project's tied
training means (heads start from the base's embeddings), so the export always writes every head
and says `tie_weights: false`; `scale_input: false` (no ln0)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from arctic_ray.methods.spec_decode.drafters.mlp.model import MLPDrafter, MLPSpeculatorSpec
from arctic_ray.models.identity import IDENTITY_KEY

WEIGHTS_FILE = "model.safetensors"
ARCHITECTURE = "ArcticMLPSpeculatorPreTrainedModel"


def arctic_config(spec: MLPSpeculatorSpec, base_archs: list[str], identity: dict) -> dict:
    return {
        "model_type": "mlp_speculator",
        "architectures": [ARCHITECTURE],
        "base_model_archs": base_archs,
        "n_predict": spec.n_predict,
        "emb_dim": spec.emb_dim,
        "inner_dim": spec.inner_dim,
        "vocab_size": spec.vocab_size,
        "tie_weights": False,
        "scale_input": False,
        # vLLM's config asserts one entry per head; the values are not used by Arctic's proposer
        "top_k_tokens_per_head": [1] * spec.n_predict,
        "n_candidates": spec.n_predict,
        "torch_dtype": "float32",
        IDENTITY_KEY: identity,
    }


def save_arctic(drafter: MLPDrafter, path: str | Path, identity: dict) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in drafter.state_dict().items()}
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": "pt"})
    config = arctic_config(drafter.spec, identity.get("architectures", []), identity)
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return path


def load_arctic(path: str | Path) -> MLPDrafter:
    from safetensors.torch import load_file

    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    if config.get("model_type") != "mlp_speculator":
        raise ValueError(f"{path}: not an MLP speculator (model_type {config.get('model_type')!r})")
    spec = MLPSpeculatorSpec(
        emb_dim=config["emb_dim"],
        inner_dim=config["inner_dim"] or config["emb_dim"],
        vocab_size=config["vocab_size"],
        n_predict=config["n_predict"],
        tie_weights=False,
    )
    drafter = MLPDrafter(spec)
    drafter.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
    return drafter
