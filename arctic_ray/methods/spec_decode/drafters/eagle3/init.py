"""Starting an EAGLE-3 drafter from the target (`speculator.init: target`), so that little data
goes further: its one decoder layer begins as the target's last layer, reading the deepest aux
layer's state, and its output layer as the target's LM-head rows of the draft vocabulary.

Where shapes differ the target's weights are fitted in: the attention projections read
`cat(embed, h)` (2H wide), so the target's go on the `h` half and the embedding half keeps its
random start; a narrower MLP takes the target's first `intermediate_size` neurons."""

from __future__ import annotations

import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.model import Eagle3Drafter


@torch.no_grad()
def init_from_target(drafter: Eagle3Drafter, target) -> None:
    cfg = drafter.config
    h = cfg.hidden_size
    last = target.layer_state(target.config.num_hidden_layers - 1)

    def put(param: torch.Tensor, value: torch.Tensor) -> None:
        param.copy_(value.to(param.dtype))

    attn = drafter.self_attn
    for name in ("q_proj", "k_proj", "v_proj"):
        put(getattr(attn, name).weight[:, h:], last[f"self_attn.{name}.weight"])
    put(attn.o_proj.weight, last["self_attn.o_proj.weight"])
    width = cfg.intermediate_size
    put(drafter.mlp.gate_proj.weight, last["mlp.gate_proj.weight"][:width])
    put(drafter.mlp.up_proj.weight, last["mlp.up_proj.weight"][:width])
    put(drafter.mlp.down_proj.weight, last["mlp.down_proj.weight"][:, :width])
    put(drafter.hidden_norm.weight, last["input_layernorm.weight"])
    put(drafter.post_attention_layernorm.weight, last["post_attention_layernorm.weight"])
    put(drafter.norm.weight, target.final_norm())
    if cfg.target_hidden_size == h:  # h starts as the deepest aux layer's state
        drafter.fc.weight.zero_()
        drafter.fc.weight[:, -h:] = torch.eye(h, dtype=drafter.fc.weight.dtype)
