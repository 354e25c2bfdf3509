"""The frozen base model a speculator learns from: a declared helper of the speculator trainer
and of the simulated evaluation. It gives, per position, the hidden states of the layers a
drafter reads (HF `hidden_states[k]`, which is what vLLM captures after k layers) followed by the
final normed hidden state, in one tensor so it can be cached as one."""

from __future__ import annotations

import torch


class FrozenBase:
    def __init__(self, model_path: str, device: torch.device, dtype: torch.dtype = torch.float32):
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device).eval()
        self.model.requires_grad_(False)
        self.config = self.model.config
        self.hidden_size = self.config.hidden_size
        self.embed = self.model.get_input_embeddings()
        self.lm_head = self.model.get_output_embeddings()

    @torch.no_grad()
    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: tuple[int, ...]) -> torch.Tensor:
        """[B, T, (len(layers) + 1) * H]: the chosen layers' hidden states, then the final one."""
        decoder = self.model.get_decoder()
        out = decoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=bool(layers))
        chosen = [out.hidden_states[k] for k in layers]
        return torch.cat([*chosen, out.last_hidden_state], dim=-1)

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the chosen layers' states [B, T, n*H], the final state [B, T, H])."""
        return features[..., : -self.hidden_size], features[..., -self.hidden_size :]

    def logits(self, hidden: torch.Tensor, vocab_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The base's logits from its final hidden state, over `vocab_ids` only when given."""
        weight = self.lm_head.weight if vocab_ids is None else self.lm_head.weight[vocab_ids]
        return hidden.to(weight.dtype) @ weight.T


def default_aux_layers(num_layers: int) -> tuple[int, int, int]:
    """vLLM's default (2, L//2, L-3) when those are three distinct layers, else three spread
    over 1..L-1 (layer L is not used: HF's last hidden state is already normed, vLLM's is not)."""
    ids = (2, num_layers // 2, num_layers - 3)
    if len(set(ids)) == 3 and 0 < min(ids) and max(ids) < num_layers:
        return ids
    if num_layers < 4:
        raise ValueError(f"EAGLE-3 reads three distinct base layers; the base has only {num_layers}")
    return (1, num_layers // 2, num_layers - 1)
