"""vLLM serves the trained EAGLE-3 drafter as trained: acceptance measured by vLLM matches the
simulated one and is well above the untrained drafter's. The same measurement times a second
eval set, and suffix decoding with its cache warmed on a disjoint split, an engine per repeat."""

import random

import torch

from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.eagle3.export import save_eagle3
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase
from arctic_ray.models.identity import model_identity
from arctic_ray.models.ref import ModelRef
from tests.support.eagle3_training import simulate, train_in_process


def test_vllm_serves_the_trained_drafter_as_trained(ray_local, tiny_model, tiny_generations, tmp_path):
    from arctic_ray.engines.vllm.settings import VLLMEngineConfig
    from arctic_ray.methods.spec_decode.vllm_eval import Case, EvalPrompts, measure_speculative_decoding

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
    cases.append(Case("suffix", {"method": "suffix", "num_speculative_tokens": 8}, sampled=False, warm_cache=True))
    engine = VLLMEngineConfig(max_model_len=256, kv_cache_bytes=64 << 20)
    prompts = EvalPrompts(
        {"heldout": [p for p, _ in held], "foreign": [p for p, _ in train[:4]]}, warmup=[p for p, _ in train[4:12]]
    )
    result = measure_speculative_decoding(ModelRef.of(tiny_model), engine, cases, prompts, 48, [1, 4], 2, 0.7)

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
    # the second set, timed on the same engines
    assert result["trained"]["foreign"]["greedy"]["drafts"] > 0 and result["trained"]["foreign"]["speedup"][4] > 0
    # suffix decoding's cache held the eight warm-up answers and, at each timed pass, no timed
    # prompt's own (`forget_all_but` checks it); two engines, one per repeat, both lossless
    suffix = result["suffix"]
    assert "error" not in suffix, suffix.get("error")
    assert suffix["suffix_cache_warm"] == 8 and len(suffix["tok_s_repeats"][1]) == 2
    assert suffix["outputs_equal_plain"] >= 7 / 8 and suffix["foreign"]["outputs_equal_plain"] >= 3 / 4
    assert suffix["greedy"]["drafts"] > 0
