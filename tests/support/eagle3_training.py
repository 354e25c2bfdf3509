"""Train and judge an EAGLE-3 drafter in this process, on (prompt ids, completion ids) rows: what
the drafter tests compare vLLM's acceptance and the engine-feature path against."""

from __future__ import annotations

import torch

from arctic_ray.methods.spec_decode.trainer import acceptance, accepted_per_position


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
