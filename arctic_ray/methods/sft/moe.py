"""Mixture-of-Experts pieces for SFT, pure torch: find a model's sparse MoE blocks by their
structure, the per-layer load-balancing loss with its theoretical minimum, and freezing the
routed experts and/or the routers (the instruction-tuning seed's "Solution No. 3")."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_ROUTER_NAMES = ("gate", "router")  # Mixtral, Qwen2/3-MoE, OLMoE, DeepSeek: "gate"; others: "router"
_NUM_EXPERTS_FIELDS = ("num_experts", "num_local_experts", "n_routed_experts")


def _config_field(model: nn.Module, fields: tuple[str, ...]) -> int:
    config = model.config
    for cfg in (config, getattr(config, "text_config", None)):  # multimodal models nest the LM's config
        for field in fields:
            value = getattr(cfg, field, None)
            if isinstance(value, int) and value > 0:
                return value
    raise ValueError(f"{type(config).__name__} has none of {', '.join(fields)}: not a Mixture-of-Experts model")


def num_experts(model: nn.Module) -> int:
    """Routed experts per MoE layer, from the config (a shared expert is not counted)."""
    return _config_field(model, _NUM_EXPERTS_FIELDS)


def router_top_k(model: nn.Module) -> int:
    """Experts each token is routed to, from the config."""
    return _config_field(model, ("num_experts_per_tok",))


def _router(block: nn.Module, n_experts: int) -> nn.Module | None:
    """The block's router: a child named gate/router whose weight maps hidden -> one logit per
    expert (an nn.Linear, or transformers 5's TopKRouter holding a bare [E, hidden] weight)."""
    for name in _ROUTER_NAMES:
        child = getattr(block, name, None)
        weight = getattr(child, "weight", None)
        if isinstance(child, nn.Module) and isinstance(weight, Tensor) and weight.dim() == 2:
            if weight.shape[0] == n_experts:
                return child
    return None


def _is_experts(module: object, n_experts: int) -> bool:
    """One module per expert (a ModuleList), or fused weights whose leading dimension is the expert."""
    if isinstance(module, nn.ModuleList):
        return len(module) == n_experts
    if not isinstance(module, nn.Module):
        return False
    params = list(module.parameters(recurse=False))
    return any(p.dim() == 3 for p in params) and all(p.shape[0] == n_experts for p in params)


def moe_layers(model: nn.Module) -> list[str]:
    """Names (as in `model.named_modules()`) of the sparse MoE blocks, in forward order: modules
    with a router to `num_experts` logits and an `experts` container. Dense layers of a hybrid
    (Qwen2-MoE's `decoder_sparse_step`, `mlp_only_layers`) are not among them; a dense model has none."""
    try:
        n_experts = num_experts(model)
    except ValueError:  # no expert count in the config: a dense model
        return []
    return [
        name
        for name, module in model.named_modules()
        if _router(module, n_experts) is not None and _is_experts(getattr(module, "experts", None), n_experts)
    ]


def load_balance_losses(
    router_logits: tuple[Tensor, ...] | None, top_k: int, attention_mask: Tensor | None = None
) -> Tensor:
    """The normalised GShard/Switch load-balancing loss of each MoE layer, shape [num_moe_layers].

    For one layer with E experts, over the non-padding tokens t = 1..T:

        f_e  = (1/T) · #{t : e among the top-k experts of t}     (so Σ_e f_e = k)
        P_e  = (1/T) · Σ_t softmax(logits_t)_e                   (so Σ_e P_e = 1)
        loss = E · Σ_e f_e · P_e

    f carries no gradient (top-k is a choice); P does, so the loss pushes router probability away
    from over-used experts. With balanced routing (f_e = k/E for every e) the loss is exactly k,
    whatever P is; so it is with a uniform router. That value, k per layer and
    `theoretical_minimum(k, L)` summed over L layers, is the reference to plot the loss against. It
    is the value at balance, not a hard floor: a layer can dip below k when the experts tokens
    pick get little probability from the other tokens (test_moe shows one).

    Unlike transformers' `load_balancing_loss_func` (one number, f and P averaged over layers
    first), this keeps one value per layer. Equal to it for a single layer.

    router_logits: one tensor per MoE layer, [tokens, E] (Qwen2-MoE and Mixtral flatten batch ×
    sequence) or [batch, seq, E]; `model(..., output_router_logits=True).router_logits`.
    attention_mask: [batch, seq], 1 for real tokens; padding is left out of f and P."""
    if not router_logits:
        raise ValueError("no router logits: run the model with output_router_logits=True")
    mask = None if attention_mask is None else attention_mask.reshape(-1)
    losses = []
    for logits in router_logits:
        n_experts = logits.shape[-1]
        probs = logits.reshape(-1, n_experts).float().softmax(dim=-1)
        chosen = F.one_hot(probs.topk(top_k, dim=-1).indices, n_experts).sum(dim=1).to(probs.dtype)  # [T, E] 0/1
        if mask is None:
            weight = torch.ones(probs.shape[0], 1, device=probs.device)
        elif mask.numel() != probs.shape[0]:
            raise ValueError(
                f"attention mask has {mask.numel()} tokens, router logits {probs.shape[0]}: pass the mask of "
                "this forward pass (no KV cache)"
            )
        else:
            weight = mask.to(device=probs.device, dtype=probs.dtype).unsqueeze(-1)
        tokens = weight.sum().clamp_min(1.0)  # an all-padding batch gives 0, not NaN, without a host sync
        f = (chosen * weight).sum(dim=0) / tokens
        p = (probs * weight).sum(dim=0) / tokens
        losses.append(n_experts * (f * p).sum())
    return torch.stack(losses)


def theoretical_minimum(top_k: int, num_moe_layers: int) -> float:
    """The summed load-balancing loss of perfectly balanced routing: k per MoE layer."""
    return float(top_k * num_moe_layers)


def freeze_moe(model: nn.Module, experts: bool, router: bool) -> dict[str, int]:
    """Set requires_grad=False on the routed experts' and/or the routers' parameters; returns
    parameter counts (elements): trainable, total, frozen_experts, frozen_router.

    `experts` means the routed experts only. A shared expert (Qwen2-MoE's `shared_expert`, Arctic's
    dense residual MLP) is seen by every token like a dense MLP, so it stays trainable, and so does
    its sigmoid `shared_expert_gate`, which is not a router among experts. Nothing is unfrozen:
    False leaves those parameters as they are. Call it before building the optimizer, and give the
    optimizer only parameters with requires_grad."""
    n_experts = num_experts(model)
    blocks = [model.get_submodule(name) for name in moe_layers(model)]
    if not blocks:
        raise ValueError(f"{type(model).__name__}: no sparse MoE block found to freeze")
    # moe_layers keeps only the blocks with an experts module and a router
    expert_params = [p for block in blocks for p in cast(nn.Module, block.experts).parameters()]
    router_params = [p for block in blocks for p in cast(nn.Module, _router(block, n_experts)).parameters()]
    for chosen, params in ((experts, expert_params), (router, router_params)):
        if chosen:
            for param in params:
                param.requires_grad_(False)
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
        "frozen_experts": sum(p.numel() for p in expert_params if not p.requires_grad),
        "frozen_router": sum(p.numel() for p in router_params if not p.requires_grad),
    }
