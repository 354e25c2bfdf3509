"""How long a sequence one training step can take within a fixed memory budget, two ways, on the
built-in smollm2-long model (SmolLM2's vocabulary and width, 8 heads, 2 KV heads, 4 layers), fp32
on CPU, one sequence of random tokens, all of them trained; the length doubles from 1024:

  baseline: one worker, the whole sequence, gradient checkpointing on, no tiling (2 threads).
  alst:     two workers (1 thread each) in one Ulysses group (SP=2, each holds half the sequence),
            tiled MLP, the loss in tiles of --tile-tokens, gradient checkpointing.

A step is the forward and backward of the training loop's own code (`packed_loss`,
`sequence_parallel.shard`/`tile_mlps`); the optimizer's memory does not grow with the length.
Each configuration and length runs in fresh processes. Memory is each worker's resident high-water
mark (VmHWM in /proc/self/status, with glibc's mmap threshold fixed so freed tensors leave it),
reset after setup (model, batch) by writing 5 to /proc/self/clear_refs; the budget is "memory
after setup + --budget-gib", and a watchdog thread stops a worker once its high-water mark
crosses it (a configuration stops doubling after a failed length).

    python benchmarks/long_sequence.py
    python benchmarks/long_sequence.py --budget-gib 2 --max-length 32768

Prints a line per length and configuration, then:
long-seq: max_len_baseline=A max_len_alst=B ratio=B/A peak_mb_at_A_baseline=X peak_mb_at_A_alst=Y
tok_s_ratio_at_A=Z loss_diff_at_A=D   (one line; peaks are the larger worker's, tokens/s alst/baseline)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path

OVER_BUDGET = 3  # a worker's exit code when the watchdog stopped it


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_high_water_mark() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return status_bytes("VmHWM")


def watch(limit: int, out: Path) -> None:
    """Stop this process once its high-water mark crosses `limit` bytes."""

    def loop() -> None:
        while True:
            peak = status_bytes("VmHWM")
            if peak > limit:
                out.write_text(json.dumps({"over_budget": True, "peak": peak}))
                os._exit(OVER_BUDGET)
            time.sleep(0.01)

    threading.Thread(target=loop, daemon=True).start()


def worker(rank: int, size: int, length: int, model_path: str, budget: int, tile_tokens: int, out: str) -> None:
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM

    from arctic_ray.data.packing import pack, pad_bins
    from arctic_ray.train import sequence_parallel
    from arctic_ray.train.packed import packed_loss

    torch.set_num_threads(2 // size)
    alst = size > 1
    if alst:
        dist.init_process_group("gloo", init_method=f"file://{out}/init", rank=rank, world_size=size)
    sp = sequence_parallel.start(size, "sdpa", 1, model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, attn_implementation="sdpa", dtype=torch.float32)
    model.config.use_cache = False
    model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if alst:
        sequence_parallel.tile_mlps(model)
    tokens = torch.randint(1000, model.config.vocab_size, (length,), generator=torch.Generator().manual_seed(0))
    example = {"input_ids": tokens.tolist(), "labels": tokens.tolist()}
    batch = pad_bins(pack([example], length), pad_id=0)
    if alst:
        batch = sequence_parallel.shard(sp, batch)
    base = reset_high_water_mark()
    result = Path(out, f"rank{rank}.json")
    watch(base + budget, result)
    start = time.perf_counter()
    loss_sum, targets, _ = packed_loss(model, batch, tile_tokens=tile_tokens if alst else None)
    total = targets.clone()
    if alst:
        dist.all_reduce(total)
    (loss_sum / total).backward()  # the global batch's target tokens divide, as in the trainer
    seconds = time.perf_counter() - start
    summed = loss_sum.detach().clone()
    if alst:
        dist.all_reduce(summed)
    peak = status_bytes("VmHWM")
    result.write_text(json.dumps({"peak": peak, "base": base, "seconds": seconds, "loss": float(summed / total)}))
    if alst:
        dist.destroy_process_group()


def run(config: str, length: int, model_path: str, args) -> dict:
    """One step of `config` at `length` in fresh processes: the larger worker's peak and time."""
    size = 2 if config == "alst" else 1
    out = Path(tempfile.mkdtemp(prefix=f"long-seq-{config}-{length}-"))
    budget = int(args.budget_gib * 2**30)
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=worker, args=(r, size, length, model_path, budget, args.tile_tokens, str(out)))
        for r in range(size)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + args.step_timeout
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in procs):  # one stopped: its partner waits in a collective
            break
        time.sleep(0.2)
    for p in procs:
        if p.is_alive():
            p.kill()
        p.join()
    results = [json.loads(f.read_text()) for f in sorted(out.glob("rank*.json"))]
    codes = [p.exitcode for p in procs]
    if codes == [0] * size and len(results) == size:
        return {
            "ok": True,
            "peak": max(r["peak"] for r in results),
            "grown": max(r["peak"] - r["base"] for r in results),
            "seconds": max(r["seconds"] for r in results),
            "loss": results[0]["loss"],
        }
    over = [r for r in results if r.get("over_budget")]
    why = "over budget" if over else ("over time" if time.monotonic() >= deadline else f"exit codes {codes}")
    return {"ok": False, "why": why, "peak": max((r["peak"] for r in over), default=0)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-gib", type=float, default=1.0, help="memory a worker may add after setup")
    p.add_argument("--min-length", type=int, default=1024)
    p.add_argument("--max-length", type=int, default=16384, help="stop doubling here (CPU attention is quadratic)")
    p.add_argument("--tile-tokens", type=int, default=256, help="alst: target tokens per logits tile")
    p.add_argument("--step-timeout", type=float, default=900, help="seconds one configuration and length may take")
    args = p.parse_args(argv)
    # glibc would keep freed tensors' memory in its heap (its mmap threshold rises as big blocks
    # are freed): a fixed threshold returns them, so the high-water mark is what was alive.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")  # read by the workers' libc at start

    from arctic_ray.models.resolve import resolve_model

    model_path = resolve_model("smollm2-long")
    print(f"budget: memory after setup + {args.budget_gib} GiB per worker; model smollm2-long at {model_path}")
    best: dict[str, int] = {}
    at: dict[tuple[str, int], dict] = {}
    length, alive = args.min_length, {"baseline", "alst"}
    while alive and length <= args.max_length:
        for config in ("baseline", "alst"):
            if config not in alive:
                continue
            r = run(config, length, model_path, args)
            at[config, length] = r
            if r["ok"]:
                best[config] = length
                print(
                    f"{config:8s} len={length:6d} peak_mb={r['peak'] / 2**20:8.1f} "
                    f"bytes_per_token={r['grown'] / length:9.0f} tok_s={length / r['seconds']:8.1f} "
                    f"loss={r['loss']:.6f}",
                    flush=True,
                )
            else:
                alive.discard(config)
                print(f"{config:8s} len={length:6d} stopped: {r['why']}", flush=True)
        length *= 2
    a, b = best.get("baseline", 0), best.get("alst", 0)
    base, alst = at.get(("baseline", a), {}), at.get(("alst", a), {})
    both = base.get("ok") and alst.get("ok")
    print(
        f"long-seq: max_len_baseline={a} max_len_alst={b} ratio={b / a if a else float('nan'):.1f} "
        f"peak_mb_at_A_baseline={base.get('peak', 0) / 2**20:.1f} peak_mb_at_A_alst={alst.get('peak', 0) / 2**20:.1f} "
        f"tok_s_ratio_at_A={base['seconds'] / alst['seconds'] if both else float('nan'):.2f} "
        f"loss_diff_at_A={abs(base['loss'] - alst['loss']) if both else float('nan'):.2e}"
        + (" (alst never crossed the budget: raise --max-length)" if "alst" in alive else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
