"""Speculator training step: vocabulary projection at completion targets only (what the trainer
does) against the baseline of projecting every position and masking the loss afterwards.

SmolLM2-135M shapes (hidden 576, vocab 49152, 3 tied heads), batch 4 x 160 tokens with a
realistic prompt / completion / padding split. Prints the median step time of each and the ratio."""

from __future__ import annotations

import statistics
import time

import torch
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.drafters.mlp.model import MLPSpeculator, MLPSpeculatorSpec
from arctic_ray.methods.spec_decode.drafters.mlp.objective import head_targets, speculator_loss

HIDDEN, VOCAB, N_PREDICT, BATCH, SEQ = 576, 49152, 3, 4, 160


def masked_full_loss(spec, hidden, ids, targets, valid):
    logits = spec(hidden, ids)  # [n, B, T', V] at every position
    losses = []
    for i in range(logits.shape[0]):
        ce = F.cross_entropy(logits[i].flatten(0, 1), targets[i].flatten(), reduction="none")
        mask = valid[i].flatten().float()
        losses.append((ce * mask).sum() / mask.sum())
    return torch.stack(losses).mean()


def selected_loss(spec, hidden, ids, targets, valid):
    return speculator_loss(spec(hidden, ids, valid), targets, valid)[0]


def time_step(fn, spec, args, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = fn(spec, *args)
        loss.backward()
        spec.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def main(repeats: int = 5) -> dict:
    torch.manual_seed(0)
    spec = MLPSpeculator(MLPSpeculatorSpec(emb_dim=HIDDEN, inner_dim=HIDDEN, vocab_size=VOCAB, n_predict=N_PREDICT))
    for i in range(N_PREDICT):  # tied heads: frozen vocabulary matrices, as in the default recipe
        spec.emb[i].weight.requires_grad_(False)
        spec.head[i].weight.requires_grad_(False)
    hidden = torch.randn(BATCH, SEQ, HIDDEN)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ))
    prompt = torch.tensor([38, 45, 30, 52])
    length = torch.tensor([160, 131, 98, 144])
    pos = torch.arange(SEQ)[None]
    in_completion = (pos >= prompt[:, None]) & (pos < length[:, None])
    targets, valid = head_targets(ids, in_completion, N_PREDICT)
    args = (hidden, ids, targets, valid)
    assert torch.allclose(masked_full_loss(spec, *args), selected_loss(spec, *args), atol=1e-4)

    baseline, candidate = [], []
    time_step(selected_loss, spec, args, 1)  # warm-up
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        baseline += time_step(masked_full_loss, spec, args, 1)
        candidate += time_step(selected_loss, spec, args, 1)
    b, c = statistics.median(baseline), statistics.median(candidate)
    share = float(valid.float().mean())
    print(f"speculator loss step (SmolLM2 shapes, {share:.0%} of positions are completion targets)")
    print(f"  baseline  full-vocab projection at every position: {b * 1000:8.1f} ms")
    print(f"  arctic_ray projection at completion targets only:  {c * 1000:8.1f} ms")
    print(f"  speed-up vs baseline: {b / c:.2f}x")
    return {"baseline_ms": b * 1000, "candidate_ms": c * 1000, "speedup": b / c}


if __name__ == "__main__":
    main()
