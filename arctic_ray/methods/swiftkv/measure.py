"""SwiftKV against the original model on the same prompts, measured: prefill FLOPs (PyTorch's
counter), prefill wall time, KV cache bytes, the tokens each layer ran on, and, teacher-forced
on held-out chats, the student's top-1 agreement with the original and its KL from it. The
original runs through the same cached code with every layer a KV layer, so a ratio compares
SwiftKV with the model it came from and nothing else."""

from __future__ import annotations

import statistics
import time
from functools import partial

import torch

from arctic_ray.data.chat import IGNORE_INDEX, tokenize_chat
from arctic_ray.methods.swiftkv.counting import flops, layer_tokens
from arctic_ray.methods.swiftkv.inference import CachedDecoder, KVCache
from arctic_ray.methods.swiftkv.loss import kl_sum, top1_agreements
from arctic_ray.methods.swiftkv.model import SwiftKVModel


def original_model(model_path: str, dtype: torch.dtype = torch.float32) -> SwiftKVModel:
    """The base as a SwiftKV model with every layer a KV layer: the original, unchanged."""
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, attn_implementation="sdpa").eval()
    return SwiftKVModel(base, base.config.num_hidden_layers)


def prefill_counts(student: SwiftKVModel, original: SwiftKVModel, prompts: list[list[int]]) -> dict:
    swift, full = CachedDecoder(student), CachedDecoder(original, swiftkv=False)
    f_s = f_o = bytes_s = bytes_o = 0
    with layer_tokens(student) as seen:
        for ids in prompts:
            x = torch.tensor([ids])
            cs, co = KVCache(), KVCache()
            f_s += flops(partial(swift.forward, x, cs))
            f_o += flops(partial(full.forward, x, co))
            bytes_s, bytes_o = bytes_s + cs.nbytes, bytes_o + co.nbytes
    k = student.num_key_value_layers
    return {
        "prompts": len(prompts),
        "prompt_tokens": sum(map(len, prompts)),
        "layers": student.num_layers,
        "kv_layer_tokens": seen[0],
        "later_layer_tokens": seen[k] if k < student.num_layers else None,
        "tokens_per_layer": [seen[i] for i in range(student.num_layers)],
        "flops_ratio": f_s / f_o,
        "kv_cache_ratio": bytes_s / bytes_o,
    }


def prefill_seconds(
    student: SwiftKVModel, original: SwiftKVModel, ids: list[int], repeats: int = 5
) -> tuple[float, float]:
    """Median wall times of a prefill of `ids` by the student and by the original (after a
    warm-up of each), taken in turns so that a busy machine slows both alike."""
    runs = [(CachedDecoder(student), []), (CachedDecoder(original, swiftkv=False), [])]
    x = torch.tensor([ids])
    for decoder, _ in runs:
        decoder.forward(x, KVCache())
    for _ in range(repeats):
        for decoder, times in runs:
            start = time.perf_counter()
            decoder.forward(x, KVCache())
            times.append(time.perf_counter() - start)
    return statistics.median(runs[0][1]), statistics.median(runs[1][1])


@torch.no_grad()
def agreement(
    student: SwiftKVModel, original: SwiftKVModel, tokenizer, chats: list[list[dict]], max_length: int
) -> dict:
    """Teacher-forced on each chat: over the positions that predict an assistant token, the
    share where the student's top-1 token is the original's, and the mean KL (T = 1)."""
    agree = kl = n = 0.0
    for messages in chats:
        ex = tokenize_chat(tokenizer, messages, max_length)
        if ex.dropped:
            continue
        ids = torch.tensor([ex.input_ids])
        pos = torch.arange(ids.shape[1])[None]
        trained = torch.tensor(ex.labels[1:]) != IGNORE_INDEX
        s = student.logits(student(ids, pos, None).student[0, :-1][trained])
        t = original.logits(original(ids, pos, None).student[0, :-1][trained])
        agree += float(top1_agreements(s, t))
        kl += float(kl_sum(s, t))
        n += int(trained.sum())
    return {"top1_agreement": agree / max(n, 1), "kl": kl / max(n, 1), "tokens": int(n)}
