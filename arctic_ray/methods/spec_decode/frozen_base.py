"""The frozen base model a speculator learns from, whole, in each training worker: for bases the
inference engine cannot serve (`speculator.target_features: hf`) and as the reference the
engine's features are tested against. It gives, per position, the hidden states of the layers a
drafter reads (HF `hidden_states[k]`, which is what vLLM captures after k layers) followed by the
final normed hidden state, in one tensor so it can be cached as one."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from arctic_ray.methods.spec_decode.target_pieces import TargetView, Weighted


class FrozenBase(TargetView):
    def __init__(self, model_path: str, device: torch.device, dtype: torch.dtype = torch.float32):
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        self.model = model.to(device).eval()  # pyright: ignore[reportArgumentType]  # HF's @wraps(Module.to) is unbound
        self.model.requires_grad_(False)
        self.config = self.model.config
        self.embed = cast(nn.Embedding, self.model.get_input_embeddings())
        self.lm_head = self.model.get_output_embeddings()

    @torch.no_grad()
    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: tuple[int, ...]) -> torch.Tensor:
        """[B, T, (len(layers) + 1) * H]: the chosen layers' hidden states, then the final one."""
        decoder = self.model.get_decoder()
        out = decoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=bool(layers))
        chosen = [out.hidden_states[k] for k in layers]
        return torch.cat([*chosen, out.last_hidden_state], dim=-1)

    def layer_state(self, index: int) -> dict[str, torch.Tensor]:
        layers = cast(nn.ModuleList, self.model.get_decoder().layers)
        return dict(layers[index].state_dict())

    def final_norm(self) -> torch.Tensor:
        return cast(Weighted, self.model.get_decoder().norm).weight

    def held(self) -> dict[str, int]:
        return {"whole_base": self.total_params()}

    def total_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def default_aux_layers(num_layers: int) -> tuple[int, int, int]:
    """vLLM's default (2, L//2, L-3) when those are three distinct layers, else three spread
    over 1..L-1 (layer L is not used: HF's last hidden state is already normed, vLLM's is not)."""
    ids = (2, num_layers // 2, num_layers - 3)
    if len(set(ids)) == 3 and 0 < min(ids) and max(ids) < num_layers:
        return ids
    if num_layers < 4:
        raise ValueError(f"EAGLE-3 reads three distinct base layers; the base has only {num_layers}")
    return (1, num_layers // 2, num_layers - 1)
