import json

import torch
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.drafters.mlp.arctic_format import ARCHITECTURE, load_arctic, save_arctic
from arctic_ray.methods.spec_decode.drafters.mlp.config import MLPSpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.mlp.model import MLPDrafter, MLPSpeculatorSpec
from arctic_ray.methods.spec_decode.drafters.mlp.objective import head_targets, mlp_step_hits, speculator_loss
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase
from arctic_ray.models.identity import model_identity


def small(n=3) -> MLPDrafter:
    return MLPDrafter(MLPSpeculatorSpec(emb_dim=16, inner_dim=16, vocab_size=50, n_predict=n, tie_weights=False))


def test_teacher_forced_shapes_and_targets():
    spec = small()
    hidden, ids = torch.randn(2, 10, 16), torch.randint(0, 50, (2, 10))
    assert spec(hidden, ids).shape == (3, 2, 6, 50)
    targets, valid = head_targets(ids, torch.ones_like(ids, dtype=torch.bool), 3)
    # head i at position t guesses token t+2+i
    assert torch.equal(targets[0, :, 0], ids[:, 2]) and torch.equal(targets[2, :, 5], ids[:, 9])
    loss, per_head = speculator_loss(spec(hidden, ids, valid), targets, valid)
    assert per_head.shape == (3,) and torch.isfinite(loss)


def test_loss_counts_only_completion_targets():
    spec = small(2)
    hidden, ids = torch.randn(2, 12, 16), torch.randint(0, 50, (2, 12))
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[0, 5:] = True
    mask[1, 8:10] = True
    targets, valid = head_targets(ids, mask, 2)
    full = spec(hidden, ids)
    expected = torch.stack([F.cross_entropy(full[i][valid[i]], targets[i][valid[i]]) for i in range(2)])
    _, per_head = speculator_loss(spec(hidden, ids, valid), targets, valid)
    assert torch.allclose(per_head, expected, atol=1e-6)
    assert valid[1, 1].nonzero().flatten().tolist() == [5, 6]  # head 1 at t targets t+3, inside the mask


def test_step_hits_chain_each_head_on_the_previous_guess():
    spec = small()
    hidden, ids = torch.randn(1, 8, 16), torch.randint(0, 50, (1, 8))
    # make the sequence exactly what the heads propose from index 0, so every step is a hit there
    proposals = spec.propose(hidden[:, 0], ids[:, 1])
    ids[0, 2:5] = proposals[0]
    hits, decode = mlp_step_hits(spec, hidden, ids, torch.ones_like(ids, dtype=torch.bool))
    assert hits.shape == (1, 8, 3) and hits[0, 0].all()
    assert decode[0, :7].all() and not decode[0, 7]  # no token after the last one


def test_arctic_format_export_reloads(tiny_model, tmp_path):
    base = FrozenBase(tiny_model, torch.device("cpu"))
    drafter = MLPSpeculatorConfig(n_predict=2).build(base, seed=0)
    assert torch.equal(drafter.head[1].weight, base.lm_head.weight) and not drafter.head[0].weight.requires_grad
    path = save_arctic(drafter, tmp_path / "mlp", model_identity(tiny_model, "tiny"))
    config = json.loads((path / "config.json").read_text())
    # what arctic-inference's ArcticMLPSpeculator and vLLM's MLPSpeculatorConfig read
    assert config["model_type"] == "mlp_speculator" and config["architectures"] == [ARCHITECTURE]
    assert config["base_model_archs"] == ["LlamaForCausalLM"] and len(config["top_k_tokens_per_head"]) == 2
    h, v = base.config.hidden_size, base.config.vocab_size
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert shapes == {
        **{f"emb.{i}.weight": (v, h) for i in range(2)},
        "proj.0.weight": (h, h),
        "proj.1.weight": (h, h),
        **{f"head.{i}.weight": (v, h) for i in range(2)},
        **{f"ln.{i}.{p}": (h,) for i in range(2) for p in ("weight", "bias")},
    }
    loaded = load_arctic(path)
    hidden, ids = torch.randn(1, 9, h), torch.randint(0, v, (1, 9))
    assert torch.equal(loaded(hidden, ids), drafter(hidden, ids))
    again = MLPSpeculatorConfig(n_predict=2).build(base, seed=0)
    assert torch.equal(again.proj[0].weight, drafter.proj[0].weight)  # same seed, same init on every rank
