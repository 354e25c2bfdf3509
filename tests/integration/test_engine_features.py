"""The engine owns the target: hidden states captured in vLLM equal the HF base's, those captured
while it generates equal a prefill of what it generated, a drafter trained on them learns what
one trained on HF's learns, and a trainer of the engine path holds only the target's embeddings
and draft-vocabulary LM-head rows."""

import os
import random

import numpy as np
import pytest
import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase
from arctic_ray.methods.spec_decode.target_pieces import TargetPieces
from tests.support.eagle3_training import simulate, train_in_process

LAYERS = [1, 2, 3]  # the tiny base's EAGLE-3 aux layers
MAX_LEN = 256
KV_TOKENS = 640  # the tiny base keeps 1 KiB of KV cache per token: room for two whole sequences


@pytest.fixture(scope="module")
def feature_llm(tiny_model):
    """One in-process vLLM engine with the capture extension (float32, CPU)."""
    from arctic_ray.engines.vllm.hidden_states import feature_engine_kwargs
    from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm

    engine = VLLMEngineConfig(max_model_len=MAX_LEN, kv_cache_bytes=KV_TOKENS << 10)
    saved = dict(os.environ)
    llm = start_llm(tiny_model, engine, **feature_engine_kwargs(engine.max_model_len))
    yield llm
    del llm
    os.environ.clear()
    os.environ.update(saved)


def test_engine_features_equal_hf_hidden_states(feature_llm, tiny_model, tiny_generations):
    from arctic_ray.engines.vllm.hidden_states import engine_features

    base = FrozenBase(tiny_model, torch.device("cpu"))
    # different lengths in one engine batch, and one sequence twice
    sequences = [p + c for p, c in tiny_generations[:6]] + [tiny_generations[0][0] + tiny_generations[0][1]]
    got = engine_features(feature_llm, sequences, LAYERS)
    assert [g.shape for g in got] == [(len(s), 4 * base.config.hidden_size) for s in sequences]
    for seq, feats in zip(sequences, got, strict=False):
        ids = torch.tensor([seq])
        want = base.features(ids, torch.ones_like(ids), tuple(LAYERS))[0].numpy()
        np.testing.assert_allclose(feats, want, rtol=1e-4, atol=1e-5)
    # a neighbouring layer is a thousand times the tolerance away: the test tells layers apart
    h = base.config.hidden_size
    assert np.abs(got[0][:, :h] - got[0][:, h : 2 * h]).max() > 1e-2


def test_states_captured_while_generating_equal_a_prefill_of_what_was_generated(feature_llm, tiny_generations):
    from vllm import SamplingParams

    from arctic_ray.engines.vllm.hidden_states import engine_features, generate_capturing, states_by_request

    prompts = [p for p, _ in tiny_generations[:8]]
    # eight sequences of MAX_LEN - 1 tokens (a prefill of each must fit) at once, in a KV cache with
    # room for two: continuous batching mixes their prefills and decodes, and the scheduler preempts
    # and recomputes some
    params = [SamplingParams(max_tokens=MAX_LEN - 1 - len(p), temperature=0.0, ignore_eos=True) for p in prompts]
    outputs, records = generate_capturing(feature_llm, [{"prompt_token_ids": p} for p in prompts], params, LAYERS)
    captured = states_by_request(records, LAYERS)
    assert sum(c.recomputed for c in captured.values()) > 0  # the preempted case was exercised
    assert max(len(r["requests"]) for r in records) > 1  # and forwards of several requests
    sequences = [list(o.prompt_token_ids) + list(o.outputs[0].token_ids) for o in outputs]
    prefilled = engine_features(feature_llm, sequences, LAYERS)
    for output, sequence, want in zip(outputs, sequences, prefilled, strict=True):
        got = captured[output.request_id]
        assert got.ids.tolist() == sequence[:-1]  # the last sampled token was never fed back
        np.testing.assert_allclose(got.features, want[:-1], rtol=1e-4, atol=1e-5)


def test_a_drafter_trained_on_engine_features_matches_one_trained_on_hf(feature_llm, tiny_model, tiny_generations):
    from arctic_ray.engines.vllm.hidden_states import engine_features

    rows = list(tiny_generations)
    random.Random(0).shuffle(rows)
    held, train = rows[:8], rows[8:24]
    base = FrozenBase(tiny_model, torch.device("cpu"))
    pieces = TargetPieces(tiny_model, torch.device("cpu"))
    counts = torch.bincount(torch.tensor([t for _, c in train for t in c]), minlength=base.config.vocab_size)
    from_hf = Eagle3Config(draft_vocab_size=256).build(base, 0, counts)
    from_engine = Eagle3Config(draft_vocab_size=256).build(pieces, 0, counts)
    pieces.keep_head_rows(from_engine.target_head_ids())

    class EngineBase:
        """The pieces, with features looked up from the engine's (as the trainer's rows carry them)."""

        def __init__(self, rows):
            seqs = [p + c for p, c in rows]
            self.by_seq = {
                tuple(s): torch.from_numpy(f)
                for s, f in zip(seqs, engine_features(feature_llm, seqs, LAYERS), strict=False)
            }

        def features(self, ids, attention, _layers):
            out = torch.zeros(*ids.shape, 4 * base.config.hidden_size)
            for i, (row, n) in enumerate(zip(ids, attention.sum(-1), strict=False)):
                out[i, :n] = self.by_seq[tuple(row[:n].tolist())]
            return out

        def __getattr__(self, name):
            return getattr(pieces, name)

    engine_base = EngineBase(train + held)
    start = torch.cat([p.detach().flatten() for p in from_hf.parameters()])
    train_in_process(from_hf, base, train, epochs=3)
    train_in_process(from_engine, engine_base, train, epochs=3)
    hf_w = torch.cat([p.detach().flatten() for p in from_hf.parameters()])
    engine_w = torch.cat([p.detach().flatten() for p in from_engine.parameters()])
    # the two runs move the same way: their difference is tiny beside how far training moved
    assert (engine_w - hf_w).norm() < 0.01 * (hf_w - start).norm()
    sim_hf, sim_engine = simulate(from_hf, base, held), simulate(from_engine, engine_base, held)
    assert abs(sim_hf["tau_sim"] - sim_engine["tau_sim"]) < 0.02, (sim_hf, sim_engine)


def test_the_engine_path_holds_no_decoder_weights(tiny_model):
    base = FrozenBase(tiny_model, torch.device("cpu"))
    pieces = TargetPieces(tiny_model, torch.device("cpu"))
    drafter = Eagle3Config(draft_vocab_size=128).build(pieces, 0)
    pieces.keep_head_rows(drafter.target_head_ids())
    h, vocab = base.config.hidden_size, base.config.vocab_size
    whole = sum(p.numel() for p in base.model.parameters())
    assert pieces.total_params() == whole
    assert sum(pieces.held().values()) == vocab * h + 128 * h  # embeddings + the draft rows, nothing else
    assert sum(base.held().values()) == whole
    assert torch.equal(pieces.embed.weight, base.embed.weight)
    assert torch.equal(pieces.head_rows, base.lm_head.weight[drafter.draft_ids])
    hidden = torch.randn(2, 5, h)
    assert torch.allclose(pieces.logits(hidden, drafter.draft_ids), base.logits(hidden, drafter.draft_ids), atol=1e-6)


def test_the_features_key_follows_the_rows_tokens_not_their_order_or_padding(ray_local, tiny_model):
    import ray.data

    from arctic_ray.methods.spec_decode.engine_features import features_key
    from arctic_ray.models.ref import ModelRef

    def rows(sequences, width=12, pad=0):
        padded = [s + [pad] * (width - len(s)) for s in sequences]
        return ray.data.from_items(
            [{"input_ids": np.array(p), "length": len(s)} for p, s in zip(padded, sequences, strict=True)]
        )

    model = ModelRef.of(tiny_model)
    sequences = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [5, 6, 7]]
    key = features_key(model, [1, 2], "float16", rows(sequences))
    assert features_key(model, [1, 2], "float16", rows(sequences[::-1], width=16, pad=3)) == key
    changed = [[5, 6, 7], [8, 9], [10, 11, 12, 14], [5, 6, 7]]
    assert features_key(model, [1, 2], "float16", rows(changed)) != key  # one token
    assert features_key(model, [1, 2], "float16", rows(sequences[:3])) != key  # a repeated row dropped
    assert features_key(model, [1, 3], "float16", rows(sequences)) != key
    assert features_key(model, [1, 2], "float32", rows(sequences)) != key
