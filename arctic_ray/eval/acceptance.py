"""Speculator quality on held-out generations: per-head top-1 accuracy (teacher-forced) and the
expected acceptance length tau, the tokens produced per base forward under greedy verification
(1 from the base model + the run of leading proposals it accepts)."""

from __future__ import annotations

import numpy as np
import torch

from arctic_ray.data.speculator_samples import attention_mask, completion_mask
from arctic_ray.models.mlp_speculator import MLPSpeculator
from arctic_ray.trainers.speculator_objective import accepted_lengths, base_hidden, head_hits, head_targets


def _decode_steps(input_ids, in_completion, targets, valid):
    """Greedy-verification view of the same positions: the base's own token at t+1 and the n
    tokens after it ([B, T', n] instead of the heads' [n, B, T'])."""
    t_out = targets.shape[-1]
    step_valid = in_completion[:, 1 : 1 + t_out]  # the base emitted token t+1 itself
    next_token = input_ids[:, 1 : 1 + t_out]
    return step_valid, next_token, targets.permute(1, 2, 0), valid.permute(1, 2, 0)


@torch.no_grad()
def evaluate_speculators(base, speculators: dict[str, MLPSpeculator], batches) -> dict[str, dict]:
    """`batches` yields dicts of input_ids, completion_start, length tensors. Returns, per
    speculator name: tau, per-head accuracy, and how many decode steps were measured."""
    sums = {name: {"accepted": 0, "steps": 0, "hits": 0, "counts": 0} for name in speculators}
    agree = total = 0
    for batch in batches:
        ids = batch["input_ids"]
        in_completion = completion_mask(batch["completion_start"], batch["length"], ids.shape[1])
        attention = attention_mask(batch["length"], ids.shape[1])
        hidden = base_hidden(base, ids, attention)
        # How often the generation is the float32 base model's own greedy choice: tau is exact
        # for greedy decoding when this is 1.
        greedy = base.get_output_embeddings()(hidden[:, :-1]).argmax(-1)
        mask = in_completion[:, 1:]
        agree += int(((greedy == ids[:, 1:]) & mask).sum())
        total += int(mask.sum())
        for name, spec in speculators.items():
            n = spec.spec.n_predict
            s = sums[name]
            targets, valid = head_targets(ids, in_completion, n)
            hits, counts = head_hits(spec(hidden, ids, valid), targets, valid)
            s["hits"] = np.add(s["hits"], hits)
            s["counts"] = np.add(s["counts"], counts)
            step_valid, next_token, truth, truth_valid = _decode_steps(ids, in_completion, targets, valid)
            sel = step_valid.flatten()
            proposals = spec.propose(hidden[:, : next_token.shape[1]].flatten(0, 1)[sel], next_token.flatten()[sel])
            accepted = accepted_lengths(proposals, truth.flatten(0, 1)[sel], truth_valid.flatten(0, 1)[sel])
            s["accepted"] += int(accepted.sum())
            s["steps"] += int(sel.sum())
    out = {}
    for name, s in sums.items():
        steps = max(s["steps"], 1)
        out[name] = {
            "tau": 1.0 + s["accepted"] / steps,
            "head_accuracy": [float(h) / max(int(c), 1) for h, c in zip(np.atleast_1d(s["hits"]), np.atleast_1d(s["counts"]))],
            "decode_steps": s["steps"],
        }
    out["greedy_agreement"] = agree / max(total, 1)
    return out
