"""Serve what was measured: the drafter's number of speculative tokens k with the most output tok/s
at each measured batch size, written into the export's `config.json` (`arctic_ray_serving`) for
`vllm serve --speculative-config`. vLLM fixes k when the engine starts, and the k that pays at
batch 1 (idle compute) can cost at larger batches (verification competes for the same compute)."""

from __future__ import annotations

import json

from arctic_ray.core.storage import location

SERVING_KEY = "arctic_ray_serving"


def drafter_sweep(vllm: dict) -> dict[int, dict]:
    """The drafter's measured cases by k (the cases with a drafter model; failed engines left out)."""
    return {
        r["speculative_config"]["num_speculative_tokens"]: r
        for r in vllm.values()
        if "error" not in r and (r.get("speculative_config") or {}).get("model")
    }


def best_k(vllm: dict) -> dict | None:
    """Per batch size: the k with the highest tok/s, and the table it was chosen from (keys are
    strings, as in JSON). None when no drafter ran."""
    sweep = drafter_sweep(vllm)
    if not sweep:
        return None
    batch_sizes = sorted({bs for r in sweep.values() for bs in r["tok_s"]})
    tok_s = {
        str(bs): {str(k): r["tok_s"][bs] for k, r in sorted(sweep.items()) if bs in r["tok_s"]} for bs in batch_sizes
    }
    table = {
        "best_num_speculative_tokens": {bs: int(max(rates, key=lambda k: rates[k])) for bs, rates in tok_s.items()},
        "tok_s": tok_s,
        "measured_on": next(iter(sweep.values()))["measured_on"],
    }
    none = vllm.get("none", {}).get("tok_s")
    if none:
        table["speedup_vs_none"] = {str(bs): {k: v / none[bs] for k, v in tok_s[str(bs)].items()} for bs in batch_sizes}
    return table


def record_serving(drafter_dir: str, vllm: dict | None) -> dict | None:
    """The best-k table, also written into the drafter's `config.json` (a local path or a URI)."""
    table = best_k(vllm or {})
    if table is None:
        return None
    config = location(drafter_dir).join("config.json")
    data = json.loads(config.read_text())
    data[SERVING_KEY] = table
    config.write_text(json.dumps(data, indent=2))
    return table
