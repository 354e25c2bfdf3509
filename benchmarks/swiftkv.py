"""SwiftKV against the original model, in one run: train a SwiftKV student briefly (the swiftkv
job: Ray Train + DeepSpeed ZeRO-2, its export reloaded), then on the same held-out chats
measure prefill FLOPs (PyTorch's counter), prefill wall time at a prompt of at least
`--prompt-len` tokens, KV cache bytes, and the student's top-1 agreement with and KL from the
original, teacher-forced on the chats' assistant tokens. Both models prefill through the same
cached code (the original with every layer a KV layer), so the ratios are SwiftKV's alone.

    python benchmarks/swiftkv.py            # SmolLM2-135M-Instruct, 15 of 30 layers as KV layers
    python benchmarks/swiftkv.py --tiny     # the tiny 4-layer model, for a quick check
    python benchmarks/swiftkv.py --export DIR   # measure a trained export, no training

Prints: swiftkv: kv_layers=K/L prefill_flops_ratio=R prefill_time_ratio=T kv_cache_ratio=C top1_agreement=A kl=K
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from arctic_ray.data.chat import chat_ids
from arctic_ray.data.chat_examples import read_chat_sources
from arctic_ray.job_table import load_recipe, run_recipe
from arctic_ray.methods.swiftkv.load import load_swiftkv
from arctic_ray.methods.swiftkv.measure import agreement, original_model, prefill_counts, prefill_seconds
from arctic_ray.models.resolve import resolve_model

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def long_prompt(tokenizer, chats: list[dict], length: int) -> list[int]:
    """Held-out chats' text joined, a chat at a time, into one user turn of at least `length`
    tokens (and not much more: attention's share of the work grows with the length)."""
    text, ids, i = "", [], 0
    while len(ids) < length:
        row = chats[i % len(chats)]
        text += " ".join(m["content"] for m in row["messages"]) + "\n"
        ids = chat_ids(tokenizer, [{"role": "user", "content": text}], add_generation_prompt=True)
        i += 1
    return ids


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the tiny 4-layer model (examples/swiftkv_tiny.yaml)")
    p.add_argument("--recipe", help="a swiftkv recipe (default: examples/swiftkv_smollm2.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument("--prompt-len", type=int, default=512, help="tokens of the timed prefill (at least)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--export", help="measure this llama_swiftkv export (of the recipe's base) instead of training one")
    args = p.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    recipe_path = args.recipe or str(EXAMPLES / ("swiftkv_tiny.yaml" if args.tiny else "swiftkv_smollm2.yaml"))
    out_dir = tempfile.mkdtemp(prefix="swiftkv-bench-")
    recipe = load_recipe(recipe_path, [f"output_dir={out_dir}", *args.set])
    metrics = (
        {"export_dir": args.export, "train": {"steps": "(given export)"}, "run_dir": args.export}
        if args.export
        else run_recipe(recipe)
    )

    from transformers import AutoTokenizer

    model_path = str(resolve_model(recipe.model.name_or_path))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    student, original = load_swiftkv(metrics["export_dir"]), original_model(model_path)
    held_out = read_chat_sources(recipe.data.sources, recipe.data.eval_fraction, recipe.seed).eval.to_pylist()
    quality = agreement(student, original, tokenizer, [r["messages"] for r in held_out], recipe.data.max_length)
    prompt = long_prompt(tokenizer, held_out, args.prompt_len)
    counts = prefill_counts(student, original, [prompt])
    swift_s, full_s = prefill_seconds(student, original, prompt, repeats=args.repeats)
    result = {
        "kv_layers": f"{student.num_key_value_layers}/{student.num_layers}",
        "prefill_flops_ratio": counts["flops_ratio"],
        "prefill_time_ratio": swift_s / full_s,
        "kv_cache_ratio": counts["kv_cache_ratio"],
        "top1_agreement": quality["top1_agreement"],
        "kl": quality["kl"],
    }
    print(
        f"swiftkv: kv_layers={result['kv_layers']} prefill_flops_ratio={result['prefill_flops_ratio']:.3f} "
        f"prefill_time_ratio={result['prefill_time_ratio']:.3f} kv_cache_ratio={result['kv_cache_ratio']:.3f} "
        f"top1_agreement={result['top1_agreement']:.3f} kl={result['kl']:.4f}"
    )
    print(
        f"  (model {recipe.model.name_or_path}; {metrics['train']['steps']} training steps; "
        f"prefill of {len(prompt)} tokens: {swift_s * 1000:.1f} ms vs {full_s * 1000:.1f} ms original; "
        f"agreement over {quality['tokens']} held-out assistant tokens of {len(held_out)} chats; "
        f"run {metrics['run_dir']})",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main()
