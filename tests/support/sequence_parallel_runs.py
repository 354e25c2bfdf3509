"""Two gloo processes on this machine (torch.multiprocessing), each a rank of one sequence-parallel
group: what the parity tests compare with a single process doing the whole batch."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from arctic_ray.data.packing import pack, pad_bins


def packed_batch(tokenizer, chats: list[list[dict]], capacity: int) -> dict[str, torch.Tensor]:
    """One row packing several chats, each with its assistant turns trained."""
    from arctic_ray.data.chat import tokenize_chat

    examples = []
    for chat in chats:
        ex = tokenize_chat(tokenizer, chat, max_length=capacity)
        examples.append({"input_ids": ex.input_ids, "labels": ex.labels})
    (row,) = pack(examples, capacity)  # all of them in one row
    return pad_bins([row], pad_id=0)


def run_ranks(fn, size: int, out: Path, *args) -> list:
    """`fn(rank, size, *args)` in `size` spawned processes of one gloo group; their results."""
    init = out / "init"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_entry, args=(fn, rank, size, str(init), str(out), args)) for rank in range(size)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    codes = [p.exitcode for p in procs]
    assert codes == [0] * size, f"rank exit codes {codes}; logs in {out}"
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(size)]


def _entry(fn, rank: int, size: int, init: str, out: str, args: tuple) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=size)
    try:
        result = fn(rank, size, *args)
        Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))
    finally:
        dist.destroy_process_group()


def sft_rank(rank: int, size: int, model_path: str, batch: dict, tiled: bool) -> dict:
    """This rank's share of the summed token loss of `batch` under SP, and its gradients."""
    from transformers import AutoModelForCausalLM

    from arctic_ray.train import sequence_parallel as sp_mod
    from arctic_ray.train.packed import packed_target_logps

    sp = sp_mod.start(size, "sdpa", batch["input_ids"].shape[0], model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, attn_implementation="sdpa")
    if tiled:
        sp_mod.tile_mlps(model)
    local = sp_mod.shard(sp, batch)
    logps = packed_target_logps(model, local, tile_tokens=8 if tiled else None)
    loss = -logps.token_logps.sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    for g in grads.values():  # a parameter's gradient is the sum of the ranks' parts
        dist.all_reduce(g)
    total = loss.detach().clone()
    dist.all_reduce(total)
    return {"loss": float(total), "grads": grads, "targets": int(logps.target_mask.sum())}


def sequence_logps_rank(rank: int, size: int, model_path: str, batch: dict) -> list[float]:
    """Per-sequence summed log-probs of `batch` under SP, added up over the group."""
    from transformers import AutoModelForCausalLM

    from arctic_ray.train import sequence_parallel as sp_mod
    from arctic_ray.train.packed import packed_target_logps, sequence_sums

    sp = sp_mod.start(size, "sdpa", batch["input_ids"].shape[0], model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, attn_implementation="sdpa").eval()
    local = sp_mod.shard(sp, batch)
    with torch.no_grad():
        logps = packed_target_logps(model, local)
        partial = sequence_sums(logps.token_logps, logps.target_mask, local["segment_ids"], local["num_sequences"])
        return sp_mod.sum_over_group(sp, partial).tolist()
