import torch
from torch.nn import functional as F
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
    loss, per_head = speculator_loss(spec(hidden, ids, valid), targets, valid)
    assert per_head.shape == (3,) and torch.isfinite(loss)


def test_loss_counts_only_completion_targets():
    spec = MLPSpeculator(small_spec(2))
    hidden, ids = torch.randn(2, 12, 16), torch.randint(0, 50, (2, 12))
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[0, 5:] = True
    mask[1, 8:10] = True
    targets, valid = head_targets(ids, mask, 2)
    full = spec(hidden, ids)
    expected = torch.stack([F.cross_entropy(full[i][valid[i]], targets[i][valid[i]]) for i in range(2)])
    loss, per_head = speculator_loss(spec(hidden, ids, valid), targets, valid)
    assert torch.allclose(per_head, expected, atol=1e-6)
    # head 1 at position t targets t+3: only targets inside the mask count
    assert valid[1, 1].nonzero().flatten().tolist() == [5, 6]


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
