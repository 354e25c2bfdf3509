import torch
from transformers import AutoModelForCausalLM

from arctic_ray.models.mlp_speculator import MLPSpeculator, MLPSpeculatorSpec, build_mlp_speculator
from arctic_ray.trainers.speculator_objective import accepted_lengths, head_targets, speculator_loss


def small_spec(n=3):
    return MLPSpeculatorSpec(emb_dim=16, inner_dim=16, vocab_size=50, n_predict=n, tie_weights=False)


def test_teacher_forced_shapes_and_targets():
    spec = MLPSpeculator(small_spec())
    hidden, ids = torch.randn(2, 10, 16), torch.randint(0, 50, (2, 10))
    logits = spec(hidden, ids)
    assert logits.shape == (3, 2, 6, 50)
    targets, valid = head_targets(ids, torch.ones_like(ids, dtype=torch.bool), 3)
    # head i at position t guesses token t+2+i
    assert torch.equal(targets[0, :, 0], ids[:, 2]) and torch.equal(targets[2, :, 5], ids[:, 9])
    loss, per_head = speculator_loss(logits, targets, valid)
    assert per_head.shape == (3,) and torch.isfinite(loss)


def test_loss_ignores_positions_outside_the_completion():
    spec = MLPSpeculator(small_spec(1))
    hidden, ids = torch.randn(1, 8, 16), torch.randint(0, 50, (1, 8))
    logits = spec(hidden, ids)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, 5:] = True
    targets, valid = head_targets(ids, mask, 1)
    corrupted = targets.clone()
    corrupted[valid.logical_not()] = 0  # changing masked targets must not change the loss
    assert torch.equal(speculator_loss(logits, targets, valid)[0], speculator_loss(logits, corrupted, valid)[0])


def test_proposals_chain_each_head_on_the_previous_guess():
    spec = MLPSpeculator(small_spec())
    hidden, first = torch.randn(4, 16), torch.randint(0, 50, (4,))
    proposals = spec.propose(hidden, first)
    state, _ = spec.step(0, hidden, first)
    _, logits1 = spec.step(1, state, proposals[:, 0])
    assert proposals.shape == (4, 3)
    assert torch.equal(logits1.argmax(-1), proposals[:, 1])


def test_accepted_length_stops_at_first_miss_and_at_the_end():
    proposals = torch.tensor([[1, 2, 3], [1, 9, 3], [7, 2, 3], [1, 2, 3]])
    truth = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]])
    valid = torch.tensor([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    assert accepted_lengths(proposals, truth, valid).tolist() == [3, 1, 0, 2]


def test_save_load_roundtrip_and_tied_weights(tiny_model, tmp_path):
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    spec = build_mlp_speculator(base, n_predict=2, inner_dim=None, tie_weights=True, seed=0)
    assert torch.equal(spec.head[1].weight, base.lm_head.weight)
    assert not spec.head[0].weight.requires_grad and spec.proj[0].weight.requires_grad
    loaded = MLPSpeculator.load(spec.save(tmp_path / "spec"))
    hidden, ids = torch.randn(1, 9, base.config.hidden_size), torch.randint(0, base.config.vocab_size, (1, 9))
    assert torch.equal(loaded(hidden, ids), spec(hidden, ids))
    again = build_mlp_speculator(base, n_predict=2, inner_dim=None, tie_weights=True, seed=0)
    assert torch.equal(again.proj[0].weight, spec.proj[0].weight)  # same seed, same init on every rank
