"""The tiny MoE model and the MoE pieces of SFT: MoE blocks found by structure, the per-layer
load-balancing loss against hand-computed values, and freezing experts or routers."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, MixtralConfig, Qwen3MoeConfig
from transformers.models.qwen2_moe.modeling_qwen2_moe import load_balancing_loss_func

from arctic_ray.methods.sft.moe import (
    freeze_moe,
    load_balance_losses,
    moe_layers,
    num_experts,
    router_top_k,
    theoretical_minimum,
)
from arctic_ray.models.resolve import resolve_model
from arctic_ray.models.tiny_moe import tiny_moe_path

E, K = 8, 2  # the tiny MoE's defaults
TINY_DIMS = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=3,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=16,
)


@pytest.fixture(scope="module")
def moe_path(session_cache) -> str:
    return str(tiny_moe_path())


def rotating_logits(tokens: int) -> torch.Tensor:
    """Confident but balanced routing: token t prefers experts t and t+1 (mod E). Over whole
    cycles of E tokens each expert is picked by 2 of every 8 tokens (f_e = k/E) and, by symmetry,
    gets the same mean probability (P_e = 1/E)."""
    logits = torch.full((tokens, E), -4.0)
    t = torch.arange(tokens)
    logits[t, t % E] = 4.0
    logits[t, (t + 1) % E] = 3.0
    return logits


def collapsed_logits(tokens: int) -> torch.Tensor:
    """Every token picks experts 0 and 1: softmax is 12/24, 6/24, then 1/24 for the other six."""
    logits = torch.zeros(tokens, E)
    logits[:, 0], logits[:, 1] = math.log(12), math.log(6)
    return logits


def test_tiny_moe_builds_loads_and_returns_router_logits_per_moe_layer(moe_path):
    assert resolve_model("tiny-moe") == moe_path
    model = AutoModelForCausalLM.from_pretrained(moe_path)
    assert type(model).__name__ == "Qwen2MoeForCausalLM"
    assert model.config.hidden_size // model.config.num_attention_heads >= 32  # vLLM's CPU attention
    assert (num_experts(model), router_top_k(model)) == (E, K)
    assert moe_layers(model) == ["model.layers.1.mlp", "model.layers.3.mlp"]  # every 2nd of 4 layers
    assert type(model.get_submodule("model.layers.0.mlp")).__name__ == "Qwen2MoeMLP"  # dense between them
    assert model.get_submodule("model.layers.1.mlp.shared_expert") is not None

    tok = AutoTokenizer.from_pretrained(moe_path)
    chat = [{"role": "user", "content": "List three facts about the moon."}]
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt")["input_ids"]
    batch = torch.cat([ids, ids])
    out = model(batch, output_router_logits=True)
    assert len(out.router_logits) == 2
    assert all(logits.shape == (batch.numel(), E) for logits in out.router_logits)  # batch × seq flattened
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] > ids.shape[1]


@pytest.mark.parametrize(
    "config, blocks",
    [
        (MixtralConfig(num_local_experts=4), ["model.layers.0.mlp", "model.layers.1.mlp", "model.layers.2.mlp"]),
        (Qwen3MoeConfig(num_experts=4, mlp_only_layers=[1]), ["model.layers.0.mlp", "model.layers.2.mlp"]),
    ],
    ids=["mixtral", "qwen3_moe"],
)
def test_moe_blocks_are_found_by_structure_in_other_architectures(config, blocks):
    for field, value in TINY_DIMS.items():
        setattr(config, field, value)
    if hasattr(config, "moe_intermediate_size"):
        config.moe_intermediate_size = 16
    model = AutoModelForCausalLM.from_config(config)
    assert num_experts(model) == 4
    assert moe_layers(model) == blocks


def test_a_dense_model_has_no_moe_layers_and_nothing_to_freeze():
    model = AutoModelForCausalLM.from_config(LlamaConfig(**TINY_DIMS))
    assert moe_layers(model) == []
    with pytest.raises(ValueError, match="not a Mixture-of-Experts model"):
        freeze_moe(model, experts=True, router=False)


def test_balanced_routing_costs_exactly_top_k_per_layer():
    uniform = torch.zeros(16, E)  # P_e = 1/E, so the loss is k whatever top-k picks among the ties
    losses = load_balance_losses((uniform, rotating_logits(16)), top_k=K, attention_mask=None)
    assert losses.shape == (2,)
    torch.testing.assert_close(losses, torch.tensor([2.0, 2.0]))
    assert theoretical_minimum(K, 2) == 4.0


def test_collapsed_router_costs_what_the_formula_says():
    # f = (1, 1, 0, ...), P = (12/24, 6/24, 1/24, ...): E · (1 · 1/2 + 1 · 1/4) = 6
    losses = load_balance_losses((collapsed_logits(10), rotating_logits(8)), top_k=K)
    torch.testing.assert_close(losses, torch.tensor([E * (12 / 24 + 6 / 24), 2.0]))
    assert losses.sum() > theoretical_minimum(K, 2)


def test_equals_transformers_loss_for_one_layer():
    torch.manual_seed(0)
    logits = torch.randn(2 * 6, E) * 3
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    ours = load_balance_losses((logits,), top_k=K, attention_mask=mask)
    torch.testing.assert_close(ours[0], load_balancing_loss_func((logits,), E, K, mask))


def test_padding_tokens_do_not_count():
    # two rows of 6 positions, the last 2 of each padding; the 8 real tokens route in balance,
    # the padding would collapse onto experts 0 and 1
    logits = collapsed_logits(12).view(2, 6, E).clone()
    logits[:, :4] = rotating_logits(8).view(2, 4, E)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0]])
    flat = logits.view(12, E)  # as Qwen2-MoE returns them
    torch.testing.assert_close(load_balance_losses((flat,), K, mask), torch.tensor([2.0]))
    torch.testing.assert_close(load_balance_losses((logits,), K, mask), torch.tensor([2.0]))  # [B, S, E] too
    # counted, the padding adds 4 picks to experts 0 and 1: f = (6, 6, 2, ...)/12, and probability
    # 4 · (12/24, 6/24, 1/24, ...) to the real tokens' 1 per expert: P = (3, 2, 7/6, ...)/12
    f, p = [6 / 12, 6 / 12] + [2 / 12] * 6, [3 / 12, 2 / 12] + [7 / 72] * 6
    expected = E * sum(fe * pe for fe, pe in zip(f, p, strict=False))
    assert load_balance_losses((flat,), K, None).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="attention mask has 6 tokens, router logits 12"):
        load_balance_losses((flat,), K, mask[:1])


def test_balanced_value_is_a_reference_not_a_floor():
    # top-1 over 3 experts; token 0 picks expert 0, token 1 expert 1, and token 1 gives expert 0
    # (almost) nothing: f = (1/2, 1/2, 0), P ≈ (0.17, 0.42, 0.41), loss ≈ 3 · (0.085 + 0.21) = 0.885
    probs = torch.tensor([[0.34, 0.33, 0.33], [1e-6, 0.51, 0.49]])
    loss = load_balance_losses((probs.log(),), top_k=1)
    assert loss.item() == pytest.approx(0.885, abs=1e-5)
    assert loss.item() < theoretical_minimum(1, 1)


@pytest.mark.parametrize("experts, router", [(True, False), (False, True), (True, True), (False, False)])
def test_freeze_moe_freezes_only_what_was_asked_and_counts_it(moe_path, experts, router):
    model = AutoModelForCausalLM.from_pretrained(moe_path)
    params = dict(model.named_parameters())
    expert_names = {n for n in params if ".mlp.experts." in n}
    router_names = {n for n in params if n.endswith(".mlp.gate.weight")}  # not mlp.shared_expert_gate

    def numel(names):
        return sum(params[n].numel() for n in names)

    cfg = model.config
    assert numel(expert_names) == 2 * E * 3 * cfg.hidden_size * cfg.moe_intermediate_size  # 2 MoE layers
    assert numel(router_names) == 2 * E * cfg.hidden_size
    frozen = (expert_names if experts else set()) | (router_names if router else set())

    counts = freeze_moe(model, experts=experts, router=router)
    assert {n for n, p in params.items() if not p.requires_grad} == frozen
    assert counts == {
        "trainable": numel(params.keys() - frozen),
        "total": numel(params),
        "frozen_experts": numel(expert_names) if experts else 0,
        "frozen_router": numel(router_names) if router else 0,
    }
    assert counts["trainable"] + counts["frozen_experts"] + counts["frozen_router"] == counts["total"]

    ids = torch.randint(3, cfg.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    out = model(ids, labels=ids, output_router_logits=True)
    (out.loss + 0.01 * load_balance_losses(out.router_logits, K).sum()).backward()
    for name, param in params.items():
        if name in frozen:
            assert param.grad is None, name
        else:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
