"""The EAGLE-3 drafter: its training-time test, its export in vLLM's layout, and the proof that
vLLM serves it as trained (acceptance measured by vLLM matches the simulated one and is well
above the untrained drafter's)."""

import json
import random

import pytest
import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.eagle3.export import load_eagle3, save_eagle3
from arctic_ray.methods.spec_decode.drafters.eagle3.model import ttt_mask
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase, default_aux_layers
from arctic_ray.methods.spec_decode.trainer import acceptance, accepted_per_position
from arctic_ray.models.identity import IDENTITY_KEY, model_identity
from arctic_ray.models.ref import ModelRef


def batch_of(rows):
    t = max(len(p) + len(c) for p, c in rows)
    ids = torch.zeros(len(rows), t, dtype=torch.long)
    inc = torch.zeros(len(rows), t, dtype=torch.bool)
    att = torch.zeros(len(rows), t, dtype=torch.long)
    for i, (p, c) in enumerate(rows):
        ids[i, : len(p) + len(c)] = torch.tensor(p + c)
        inc[i, len(p) : len(p) + len(c)] = True
        att[i, : len(p) + len(c)] = 1
    return {"input_ids": ids, "in_completion": inc, "attention": att}


def simulate(drafter, base, rows):
    b = batch_of(rows)
    with torch.no_grad():
        hits, decode = drafter.step_hits(base, base.features(b["input_ids"], b["attention"], drafter.base_layers()), b)
    return acceptance(accepted_per_position(hits, decode), decode.sum())


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


def train_in_process(drafter, base, rows, epochs=10, lr=3e-3):
    layers = drafter.base_layers()
    batches = [batch_of(rows[i : i + 8]) for i in range(0, len(rows), 8)]
    features = [base.features(b["input_ids"], b["attention"], layers) for b in batches]
    opt = torch.optim.AdamW(drafter.parameters(), lr=lr)
    for _ in range(epochs):
        for b, f in zip(batches, features, strict=False):
            loss, _ = drafter.loss(base, f, b)
            opt.zero_grad()
            loss.backward()
            opt.step()


def test_vllm_serves_the_trained_drafter_as_trained(ray_local, tiny_model, tiny_generations, tmp_path):
    from arctic_ray.engines.vllm.settings import VLLMEngineConfig
    from arctic_ray.methods.spec_decode.vllm_eval import Case, measure_speculative_decoding

    rows = list(tiny_generations)
    random.Random(0).shuffle(rows)
    held, train = rows[:8], rows[8:]
    base = FrozenBase(tiny_model, torch.device("cpu"))
    counts = torch.bincount(torch.tensor([t for _, c in train for t in c]), minlength=base.config.vocab_size)
    untrained = Eagle3Config(draft_vocab_size=256).build(base, 0, counts)
    trained = Eagle3Config(draft_vocab_size=256).build(base, 0, counts)
    train_in_process(trained, base, train)
    identity = model_identity(tiny_model, "tiny")
    cases = [Case("none")] + [
        Case(
            name,
            {"method": "eagle3", "model": str(save_eagle3(d, tmp_path / name, identity)), "num_speculative_tokens": 3},
        )
        for name, d in (("trained", trained), ("untrained", untrained))
    ]
    engine = VLLMEngineConfig(max_model_len=256, kv_cache_bytes=64 << 20)
    result = measure_speculative_decoding(ModelRef.of(tiny_model), engine, cases, [p for p, _ in held], 48, [1], 1, 0.7)

    # vLLM's plain greedy outputs are the sequences the simulation runs on
    sim = simulate(trained, base, held)
    sim_untrained = simulate(untrained, base, held)
    vllm, vllm_untrained = result["trained"]["greedy"], result["untrained"]["greedy"]
    assert result["trained"]["outputs_equal_plain"] >= 7 / 8  # lossless up to float near-ties
    assert vllm["drafts"] > 0 and len(vllm["accept_per_pos"]) == 3
    # a mis-wired export (layer order, norms, positions) collapses to the untrained level
    assert vllm["accept_per_pos"][0] > vllm_untrained["accept_per_pos"][0] + 0.15
    assert sim["accept_per_pos"][0] > sim_untrained["accept_per_pos"][0] + 0.15
    for v, s in zip(vllm["accept_per_pos"], sim["accept_per_pos"], strict=False):
        assert abs(v - s) < 0.1 + 0.3 * s, (vllm["accept_per_pos"], sim["accept_per_pos"])
    assert result["trained"]["sampled"]["temperature"] == 0.7 and result["trained"]["sampled"]["drafts"] > 0
    assert result["trained"]["tok_s"][1] > 0 and result["none"]["greedy"] is None
