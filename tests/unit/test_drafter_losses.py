"""The EAGLE-3 losses (`speculator.loss`) against values computed by hand, their gradients
reaching only the drafter, and the drafter's start from the target's last layer."""

import math

import pytest
import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.eagle3.objective import step_loss
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase
from arctic_ray.methods.spec_decode.target_pieces import TargetPieces

DRAFT = [[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]
TARGET = [[1.0, 1.0, 0.0], [0.0, -2.0, 1.0]]


def softmax(row):
    e = [math.exp(x) for x in row]
    return [x / sum(e) for x in e]


def by_hand(kind, truth):
    values = []
    for d, t, y in zip(DRAFT, TARGET, truth, strict=False):
        q, p = softmax(d), softmax(t)
        if kind == "kl":
            values.append(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=False)))
        elif kind == "tv":
            values.append(0.5 * sum(abs(pi - qi) for pi, qi in zip(p, q, strict=False)))
        elif y >= 0:
            values.append(-math.log(q[y]))
    return sum(values) / len(values)


@pytest.mark.parametrize("kind", ["kl", "tv", "ce"])
def test_losses_equal_hand_computed_values(kind):
    truth = torch.tensor([2, -1])  # the second position's token is outside the draft vocabulary
    got = step_loss(kind, torch.tensor(DRAFT), torch.tensor(TARGET), truth)
    assert got.item() == pytest.approx(by_hand(kind, truth.tolist()), rel=1e-6)


def test_tv_is_zero_when_distributions_match_and_at_most_one():
    logits = torch.randn(5, 7)
    assert step_loss("tv", logits, logits, torch.zeros(5, dtype=torch.long)).item() == pytest.approx(0.0, abs=1e-7)
    far = step_loss(
        "tv", torch.tensor([[20.0, -20.0]]), torch.tensor([[-20.0, 20.0]]), torch.zeros(1, dtype=torch.long)
    )
    assert 0.99 < far.item() <= 1.0


@pytest.mark.parametrize("kind", ["kl", "tv", "ce"])
def test_gradients_reach_only_the_drafter(tiny_model, kind):
    pieces = TargetPieces(tiny_model, torch.device("cpu"))
    base = FrozenBase(tiny_model, torch.device("cpu"))
    drafter = Eagle3Config(draft_vocab_size=128, loss=kind).build(pieces, 0)
    pieces.keep_head_rows(drafter.target_head_ids())
    ids = torch.randint(5, 400, (2, 16))
    batch = {"input_ids": ids, "in_completion": torch.arange(16)[None].expand(2, 16) >= 4}
    features = base.features(ids, torch.ones_like(ids), drafter.base_layers()).requires_grad_(True)
    loss, logs = drafter.loss(pieces, features, batch)
    loss.backward()
    h = pieces.config.hidden_size
    assert not features.grad[..., -h:].any()  # the target's distribution is aimed at, never moved
    assert not pieces.embed.weight.requires_grad and pieces.embed.weight.grad is None
    assert not pieces.head_rows.requires_grad
    grads = {n: p.grad for n, p in drafter.named_parameters()}
    assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
    assert grads["lm_head.weight"].abs().sum() > 0 and grads["fc.weight"].abs().sum() > 0
    assert set(logs) >= {"loss_pos0", "acc_pos0"}


def test_init_from_the_target_copies_its_last_layer(tiny_model):
    pieces = TargetPieces(tiny_model, torch.device("cpu"))
    last = pieces.layer_state(pieces.config.num_hidden_layers - 1)
    h = pieces.config.hidden_size
    init = Eagle3Config(draft_vocab_size=128, intermediate_size=32).build(pieces, 0)
    rand = Eagle3Config(draft_vocab_size=128, intermediate_size=32, init="random").build(pieces, 0)
    assert torch.equal(init.self_attn.q_proj.weight[:, h:], last["self_attn.q_proj.weight"])
    assert torch.equal(init.self_attn.o_proj.weight, last["self_attn.o_proj.weight"])
    assert torch.equal(init.mlp.down_proj.weight, last["mlp.down_proj.weight"][:, :32])  # the first 32 neurons
    assert torch.equal(init.norm.weight, pieces.final_norm())
    assert torch.equal(init.fc.weight[:, -h:], torch.eye(h)) and not init.fc.weight[:, :-h].any()
    assert not torch.equal(rand.self_attn.o_proj.weight, last["self_attn.o_proj.weight"])
    assert torch.equal(init.lm_head.weight, rand.lm_head.weight)  # both start from the target's head rows
