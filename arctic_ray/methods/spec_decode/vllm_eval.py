"""Speculative decoding measured in vLLM itself: the same prompts and engine settings with no
speculation, with the model-free baselines (`ngram`, suffix decoding with its cache on as servers
run it and off) and with the trained drafter at every number of speculative tokens k up to its
own (vLLM fixes k when the engine starts), one engine at a time in one host process, a warm-up
first and the median of repeats. Every engine is timed on each eval set: the held-out split of
the training prompts (where the best k is chosen) and a foreign set of other styles (what a user's
own traffic looks like to the drafter). vLLM's own spec-decode counters give the acceptance rate,
the mean acceptance length and the acceptance per draft position (`spec_counters.py`). An
engine that fails is recorded as its error; the others go on."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import ray
import ray.exceptions

from arctic_ray.core.storage import local_copy
from arctic_ray.engines.vllm.device import engine_device
from arctic_ray.engines.vllm.host import EngineSeries
from arctic_ray.engines.vllm.settings import VLLMEngineConfig, running_llm
from arctic_ray.methods.spec_decode.eval_config import SpecDecodeEvalConfig
from arctic_ray.methods.spec_decode.spec_counters import counters, spec_stats, summed
from arctic_ray.methods.spec_decode.suffix_cache import cached_requests, check_disjoint, forget_all_but
from arctic_ray.models.ref import ModelRef

# No vLLM plugin in the measured engines: arctic-inference (installed for suffix decoding) registers
# one that patches the vLLM it targets (0.26) and refuses this one when ARCTIC_INFERENCE_ENABLED is
# set. VLLM_PLUGINS is an allowlist; "" names none.
NO_PLUGINS = {"VLLM_PLUGINS": ""}

PER_SET = ("tok_s", "tok_s_repeats", "greedy", "outputs")
"""What each eval set gets per engine; the first set's at the top of a case's result, the others'
under the set's name."""


@dataclass
class Case:
    name: str
    speculative_config: dict | None = None
    sampled: bool = True
    """Also measure the acceptance when sampling (with speculation and a temperature above 0)."""
    warm_cache: bool = False
    """Suffix decoding with its cache on: a fresh engine per repeat, warmed first (`suffix_cache.py`)."""


@dataclass
class EvalPrompts:
    """Token ids of the timed prompts by eval set (the first is where the best k is chosen), and
    of the warm-up split that fills a suffix cache (disjoint from every set)."""

    sets: dict[str, list[list[int]]]
    warmup: list[list[int]] = field(default_factory=list)


def spec_cases(drafter_dir: str | None, method: str | None, n_predict: int, e: SpecDecodeEvalConfig) -> list[Case]:
    """none, the baselines, the drafter at k = 1..n_predict-1 (`drafter_k<k>`, greedy only) and
    the drafter at its own n_predict (`drafter`, also sampled)."""
    suffix = {"method": "suffix", "num_speculative_tokens": e.suffix_tokens}
    baselines = {
        "ngram": Case(
            "ngram",
            {
                "method": "ngram",
                "num_speculative_tokens": n_predict,
                "prompt_lookup_min": 1,
                "prompt_lookup_max": e.ngram_max,
            },
            sampled=False,
        ),
        "suffix": Case("suffix", suffix, sampled=False, warm_cache=True),
        # each request's own prompt-and-output tree only: what suffix decoding gives a server's first requests
        "suffix_nocache": Case("suffix_nocache", {**suffix, "suffix_decoding_max_cached_requests": 0}, sampled=False),
    }
    cases = [Case("none")] + [baselines[name] for name in e.baselines]
    if drafter_dir and method:
        cases += [
            Case(
                "drafter" if k == n_predict else f"drafter_k{k}",
                {"method": method, "model": drafter_dir, "num_speculative_tokens": k},
                sampled=k == n_predict,
            )
            for k in range(1 if e.k_sweep else n_predict, n_predict + 1)
        ]
    return cases


def _generate(llm, prompts: list[list[int]], params, batch_size: int) -> tuple[list[list[int]], float]:
    outputs, start = [], time.perf_counter()
    for i in range(0, len(prompts), batch_size):
        chunk = [{"prompt_token_ids": p} for p in prompts[i : i + batch_size]]
        outputs += [list(o.outputs[0].token_ids) for o in llm.generate(chunk, params, use_tqdm=False)]
    return outputs, time.perf_counter() - start


def _nothing() -> None:
    pass


def _timed(llm, name: str, prompts: list[list[int]], params, batch_sizes: list[int], repeats: int, after_pass) -> dict:
    """One eval set on one engine: tok/s per batch size over `repeats` passes, the acceptance of
    the first batch size's passes, the greedy outputs at batch 1. `after_pass` runs after each."""
    out: dict[str, Any] = {"tok_s": {}, "tok_s_repeats": {}, "greedy": None, "outputs": []}
    for bs in batch_sizes:
        rates, before = [], counters(llm)
        for r in range(repeats):
            outs, seconds = _generate(llm, prompts, params, bs)
            after_pass()
            rates.append(sum(map(len, outs)) / seconds)
            print(f"[vllm-eval] {name} batch={bs} repeat {r + 1}/{repeats}: {rates[-1]:.1f} tok/s", flush=True)
            if bs == 1 and not out["outputs"]:
                out["outputs"] = outs
        out["tok_s"][bs], out["tok_s_repeats"][bs] = statistics.median(rates), rates
        if bs == batch_sizes[0]:
            out["greedy"] = spec_stats(before, counters(llm))
    if not out["outputs"]:
        out["outputs"] = _generate(llm, prompts, params, 1)[0]
        after_pass()
    return out


def measure_case(
    model: ModelRef,
    engine: VLLMEngineConfig,
    case: Case,
    prompts: EvalPrompts,
    max_tokens: int,
    batch_sizes: list[int],
    repeats: int,
    sampled_temperature: float,
) -> dict:
    """One engine configuration, in this process: per eval set, tok/s per batch size (median of
    repeats), greedy outputs at batch 1, vLLM's acceptance (greedy, and sampled when asked). The
    base is resolved on this node, and a drafter on shared storage is copied here (vLLM reads
    local files). A suffix engine with its cache on answers the warm-up split first and forgets
    every answer but those after each timed pass (`suffix_cache.py`)."""
    if case.warm_cache:
        check_disjoint(prompts.warmup, prompts.sets)
    path = model.path()
    engine.check_supports(path)
    spec = dict(case.speculative_config or {})
    drafter = spec.get("model")
    if drafter:
        spec["model"] = local_copy(drafter)
    extra = {"speculative_config": spec} if spec else {}
    with running_llm(path, engine, disable_log_stats=False, **extra) as llm:
        from vllm import SamplingParams

        greedy = SamplingParams(max_tokens=max_tokens, temperature=0.0)
        first = next(iter(prompts.sets.values()))
        after_pass: Callable[[], None] = _nothing
        warm: list[str] = []
        if case.warm_cache:
            _generate(llm, prompts.warmup, greedy, max(batch_sizes))  # its answers fill the cache
            warm = cached_requests(llm)
            after_pass = partial(forget_all_but, llm, warm)
        else:
            llm.generate(
                [{"prompt_token_ids": first[0]}], SamplingParams(max_tokens=16, temperature=0.0), use_tqdm=False
            )
        result: dict[str, Any] = {
            "name": case.name,
            "speculative_config": case.speculative_config,
            "measured_on": engine_device(engine),
            **({"suffix_cache_warm": len(warm)} if case.warm_cache else {}),
        }
        for n, (name, timed) in enumerate(prompts.sets.items()):
            measured = _timed(llm, f"{case.name} {name}", timed, greedy, batch_sizes, repeats, after_pass)
            if n == 0:
                result.update(measured)
            else:
                result[name] = measured
        if case.speculative_config and case.sampled and sampled_temperature > 0:
            before = counters(llm)
            sampled = engine.sampling_params({"max_tokens": max_tokens, "temperature": sampled_temperature, "seed": 0})
            _generate(llm, first, SamplingParams(**sampled), 1)
            stats = spec_stats(before, counters(llm))
            assert stats is not None  # a speculative engine has the counters
            result["sampled"] = {"temperature": sampled_temperature, **stats}
        return result


def merged_repeats(runs: list[dict], sets: list[str]) -> dict:
    """One result from engines that each ran one repeat: the median over them, their acceptance
    summed, the first one's outputs."""
    failed = next((r for r in runs if "error" in r), None)
    if failed:
        return failed
    out = dict(runs[0])
    for n, name in enumerate(sets):
        parts = runs if n == 0 else [r[name] for r in runs]
        repeats = {bs: [rate for p in parts for rate in p["tok_s_repeats"][bs]] for bs in parts[0]["tok_s"]}
        merged = {
            "tok_s": {bs: statistics.median(rates) for bs, rates in repeats.items()},
            "tok_s_repeats": repeats,
            "greedy": summed([p["greedy"] for p in parts]),
            "outputs": parts[0]["outputs"],
        }
        if n == 0:
            out.update(merged)
        else:
            out[name] = merged
    return out


def _failed(case: Case, error: str) -> dict:
    return {"name": case.name, "speculative_config": case.speculative_config, "error": error}


def _measured_or_error(engines: EngineSeries, case: Case, *args) -> dict:
    """A case whose engine fails (to start, or while it runs, or its process dies) is recorded as
    its error."""
    try:
        result: dict = engines.call(measure_case, *args)
    except ray.exceptions.RayError as e:
        cause = e.cause if isinstance(e, ray.exceptions.RayTaskError) and e.cause is not None else e
        result = _failed(case, f"{type(cause).__name__}: {cause}")
    if "error" in result:
        print(
            f"[vllm-eval] {case.name}: the engine failed, recorded as an error; "
            f"the other cases go on: {result['error']}",
            flush=True,
        )
    return result


def _loads_numba(case: Case) -> bool:
    return (case.speculative_config or {}).get("method") == "ngram"


def measure_speculative_decoding(
    model: ModelRef,
    engine: VLLMEngineConfig,
    cases: list[Case],
    prompts: EvalPrompts,
    max_tokens: int,
    batch_sizes: list[int],
    repeats: int,
    sampled_temperature: float,
) -> dict:
    """Every case, one after the other (they must not compete for the cores they are timed on),
    in one engine host (`engines/vllm/host.py`: vLLM imported once, not per engine), ngram last
    (the numba it loads breaks later engine starts in its process); a warm-cache case as one
    fresh engine per repeat. Speedups and output equality are against `none`, where it ran, per
    eval set."""
    options = {
        "num_cpus": engine.cpus_per_engine,
        "num_gpus": engine.gpus_per_engine,
        "runtime_env": {"env_vars": {**engine.engine_env(), **NO_PLUGINS}},
    }
    engines = EngineSeries(options)
    sets = list(prompts.sets)
    results: dict[str, dict] = {case.name: {} for case in cases}  # the cases' order, whatever ran first
    try:
        for case in sorted(cases, key=_loads_numba):
            args = (model, engine, case, prompts, max_tokens, batch_sizes)
            if case.warm_cache:
                runs = [_measured_or_error(engines, case, *args, 1, sampled_temperature) for _ in range(repeats)]
                results[case.name] = merged_repeats(runs, sets)
            else:
                results[case.name] = _measured_or_error(engines, case, *args, repeats, sampled_temperature)
    finally:
        engines.close()
    plain = results["none"]
    for r in results.values():
        if "error" in r or "error" in plain:
            continue
        for n, name in enumerate(sets):
            mine, base = (r, plain) if n == 0 else (r[name], plain[name])
            same = [a == b for a, b in zip(mine["outputs"], base["outputs"], strict=False)]
            mine["outputs_equal_plain"] = sum(same) / max(len(same), 1)
            mine["speedup"] = {bs: mine["tok_s"][bs] / base["tok_s"][bs] for bs in mine["tok_s"]}
    return results
