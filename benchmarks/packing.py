"""SFT throughput with packing: the same examples trained padded to the longest in each batch (the
baseline: HF's usual path, a 2D padding mask) and packed by the multipack Ray Data stage (bins of
`CAPACITY` tokens, block-diagonal mask), in one process, interleaved step by step so machine
noise hits both alike.

Fair by construction: the same examples (log-normal lengths clipped to [16, CAPACITY], 30% of
each a prompt without loss), the same model and initial weights, AdamW, and the same number of
optimizer steps over the whole data (the baseline's batches of BATCH examples; the packed bins
are grouped into as many steps). Throughput is real (non-padding) tokens per second of
forward + backward + optimizer step. Also the multipack rank imbalance for 2 ranks, one bin per
rank per step (the hardest case). One compute thread. Prints one line."""

from __future__ import annotations

import logging
import os
import tempfile
import time

import numpy as np
import torch
from torch.nn import functional as F

from arctic_ray.data.chat import IGNORE_INDEX
from arctic_ray.data.multipack import multipack, packing_efficiency, rank_imbalance
from arctic_ray.data.packing import pad_bins
from arctic_ray.models.tiny import build_tiny_model
from arctic_ray.train.packed import packed_loss

EXAMPLES, CAPACITY, BATCH, RANKS = 1000, 512, 8, 2


def skewed_examples(n: int, vocab: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(100), 0.9, n), 16, CAPACITY).astype(int)
    out = []
    for length in lengths:
        ids = rng.integers(3, vocab, length).tolist()
        prompt = int(length * 0.3)
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return out


def padded_batch(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), IGNORE_INDEX)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(e["input_ids"]), torch.tensor(e["labels"]), 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def padded_loss(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"), (
        targets != IGNORE_INDEX
    ).sum()


def timed_step(model, optimizer, loss_fn, batch) -> tuple[float, int]:
    start = time.perf_counter()
    loss_sum, targets = loss_fn(model, batch)[:2]
    (loss_sum / targets).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start, int(targets)


def packed_bins(examples: list[dict]) -> list[dict]:
    import ray

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=tempfile.mkdtemp(prefix="ray-bench-", dir="/tmp"),
    )
    try:
        ds = ray.data.from_items(examples)
        return multipack(ds, CAPACITY, num_ranks=RANKS, micro_batch_size=1).take_all()
    finally:
        ray.shutdown()


def main(n: int = EXAMPLES) -> dict:
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)  # on a busy 2-core machine, two OpenMP threads spin-wait: 10x slower, noisy
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(tmp, hidden_size=128, num_layers=4, num_heads=4, num_kv_heads=2, max_positions=CAPACITY)
        models = [
            AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
            for _ in range(2)
        ]
    pad_id = models[0].config.pad_token_id
    examples = skewed_examples(n, models[0].config.vocab_size)
    bins = packed_bins(examples)
    real = sum(len(e["input_ids"]) for e in examples)
    assert sum(len(b["input_ids"]) for b in bins) == real

    order = np.random.default_rng(1).permutation(n)
    steps = -(-n // BATCH)
    padded_steps = [
        padded_batch([examples[i] for i in order[s * BATCH : (s + 1) * BATCH]], pad_id) for s in range(steps)
    ]
    cuts = np.linspace(0, len(bins), steps + 1).astype(int)
    packed_steps = [pad_bins(bins[a:b], pad_id) for a, b in zip(cuts[:-1], cuts[1:], strict=False)]

    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-3) for m in models]
    for m in models:
        m.train()
    timed_step(models[0], optimizers[0], padded_loss, padded_steps[0])  # warm-up, both paths
    timed_step(models[1], optimizers[1], packed_loss, packed_steps[0])
    padded_s = packed_s = 0.0
    padded_targets = packed_targets = 0
    for padded, packed in zip(padded_steps, packed_steps, strict=False):
        seconds, targets = timed_step(models[0], optimizers[0], padded_loss, padded)
        padded_s, padded_targets = padded_s + seconds, padded_targets + targets
        seconds, targets = timed_step(models[1], optimizers[1], packed_loss, packed)
        packed_s, packed_targets = packed_s + seconds, packed_targets + targets
    assert padded_targets == packed_targets, (padded_targets, packed_targets)  # the same work was trained

    result = {
        "efficiency": packing_efficiency(bins, CAPACITY),
        "padded_tok_s": real / padded_s,
        "packed_tok_s": real / packed_s,
        "rank_imbalance": rank_imbalance(bins, RANKS, 1),
    }
    result["speedup"] = result["packed_tok_s"] / result["padded_tok_s"]
    print(
        f"packing: efficiency={result['efficiency']:.3f} padded_tok_s={result['padded_tok_s']:.0f} "
        f"packed_tok_s={result['packed_tok_s']:.0f} speedup={result['speedup']:.2f} "
        f"rank_imbalance={result['rank_imbalance']:.3f}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main()
