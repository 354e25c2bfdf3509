"""The EAGLE-3 drafter without an engine: the training-time test's mask and causality, the default
aux layers, and its export in vLLM's layout reloading as trained."""

import json

import pytest
import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.eagle3.export import load_eagle3, save_eagle3
from arctic_ray.methods.spec_decode.drafters.eagle3.model import ttt_mask
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase, default_aux_layers
from arctic_ray.models.identity import IDENTITY_KEY, model_identity


def test_ttt_mask_is_causal_then_diagonal():
    mask = ttt_mask(4, 2, "cpu")
    assert mask.shape == (4, 12)
    assert torch.equal(mask[:, :4], torch.tril(torch.ones(4, 4, dtype=torch.bool)))
    assert torch.equal(mask[:, 4:8], torch.eye(4, dtype=torch.bool)) and torch.equal(
        mask[:, 8:], torch.eye(4, dtype=torch.bool)
    )


def test_aux_layers_are_three_distinct_layers():
    assert default_aux_layers(30) == (2, 15, 27)  # vLLM's default for SmolLM2-135M
    assert default_aux_layers(4) == (1, 2, 3)
    with pytest.raises(ValueError, match="three distinct"):
        default_aux_layers(2)


def test_later_steps_see_only_their_own_drafts(tiny_model):
    """Changing token t+3 must not change step 0 at index <= t+1 (causal), and step 1 at index t
    reads only tokens up to t+2: the training-time test leaks no future."""
    base = FrozenBase(tiny_model, torch.device("cpu"))
    drafter = Eagle3Config(draft_vocab_size=128).build(base, 0)
    ids = torch.randint(5, 400, (1, 12))
    att = torch.ones_like(ids)
    aux, _ = base.split(base.features(ids, att, drafter.base_layers()))
    changed = ids.clone()
    changed[0, 8] = (ids[0, 8] + 1) % 400
    aux2, _ = base.split(base.features(changed, att, drafter.base_layers()))
    a = drafter(aux, ids, base.embed, 2)
    b = drafter(aux2, changed, base.embed, 2)
    assert torch.allclose(a[0][:, :7], b[0][:, :7], atol=1e-6)  # step 0 at t reads token t+1 <= 7
    assert torch.allclose(a[1][:, :6], b[1][:, :6], atol=1e-6)  # step 1 at t reads token t+2 <= 7
    assert not torch.allclose(a[0][:, 7], b[0][:, 7])


def test_draft_vocab_and_export_roundtrip(tiny_model, tmp_path):
    base = FrozenBase(tiny_model, torch.device("cpu"))
    counts = torch.zeros(base.config.vocab_size, dtype=torch.long)
    counts[[10, 20, 30]] = torch.tensor([5, 50, 7])
    drafter = Eagle3Config(draft_vocab_size=4).build(base, 0, counts)
    eos = base.config.eos_token_id
    assert drafter.draft_ids.tolist() == sorted({eos, 20, 30, 10})  # special tokens, then the most frequent
    assert torch.equal(drafter.lm_head.weight, base.lm_head.weight[drafter.draft_ids])
    identity = model_identity(tiny_model, "tiny")
    path = save_eagle3(drafter, tmp_path / "drafter", identity)
    config = json.loads((path / "config.json").read_text())
    assert config["eagle_aux_hidden_state_layer_ids"] == [1, 2, 3] and config["draft_vocab_size"] == 4
    assert (
        config[IDENTITY_KEY]["config_sha256"] == identity["config_sha256"] and config[IDENTITY_KEY]["tokenizer_sha256"]
    )
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert {
        "fc.weight",
        "layers.0.self_attn.q_proj.weight",
        "layers.0.hidden_norm.weight",
        "norm.weight",
        "lm_head.weight",
        "d2t",
    } <= keys
    assert not any(k.startswith("embed_tokens") for k in keys)  # vLLM shares the target's
    loaded = load_eagle3(path)
    ids = torch.randint(0, 400, (2, 9))
    aux = torch.randn(2, 9, 3 * base.config.hidden_size)
    for x, y in zip(drafter(aux, ids, base.embed, 3), loaded(aux, ids, base.embed, 3), strict=False):
        assert torch.equal(x, y)
    assert torch.equal(loaded.draft_ids, drafter.draft_ids)
