"""Speculative decoding measured in vLLM itself: the same held-out prompts and engine settings
with no speculation, with the model-free baselines (`ngram`, `suffix`) and with the trained
drafter at every number of speculative tokens k up to its own (vLLM fixes k when the engine
starts), one engine at a time in a fresh process, a warm-up first and the median of repeats.
vLLM's own spec-decode counters give the acceptance rate, the mean acceptance length and the
acceptance per draft position. An engine that fails is recorded as its error; the others go on."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import ray
import ray.exceptions

from arctic_ray.core.storage import local_copy
from arctic_ray.engines.vllm.device import engine_device
from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm
from arctic_ray.methods.spec_decode.eval_config import SpecDecodeEvalConfig
from arctic_ray.models.ref import ModelRef

SPEC_COUNTERS = (
    "vllm:spec_decode_num_drafts",
    "vllm:spec_decode_num_draft_tokens",
    "vllm:spec_decode_num_accepted_tokens",
)
PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos"
# No vLLM plugin in the measured engines: arctic-inference (installed for suffix decoding) registers
# one that patches the vLLM it targets (0.26) and refuses this one when ARCTIC_INFERENCE_ENABLED is
# set. VLLM_PLUGINS is an allowlist; "" names none.
NO_PLUGINS = {"VLLM_PLUGINS": ""}


@dataclass
class Case:
    name: str
    speculative_config: dict | None = None
    sampled: bool = True
    """Also measure the acceptance when sampling (with speculation and a temperature above 0)."""


def spec_cases(drafter_dir: str | None, method: str | None, n_predict: int, e: SpecDecodeEvalConfig) -> list[Case]:
    """none, the baselines, the drafter at k = 1..n_predict-1 (`drafter_k<k>`, greedy only) and
    the drafter at its own n_predict (`drafter`, also sampled)."""
    baselines = {
        "ngram": {
            "method": "ngram",
            "num_speculative_tokens": n_predict,
            "prompt_lookup_min": 1,
            "prompt_lookup_max": e.ngram_max,
        },
        # No cache of past answers: every timed pass repeats the same prompts, which it would then
        # serve from their own earlier answers (4x on the second pass). Each request's own
        # prompt-and-output tree is still used.
        "suffix": {
            "method": "suffix",
            "num_speculative_tokens": e.suffix_tokens,
            "suffix_decoding_max_cached_requests": 0,
        },
    }
    cases = [Case("none")] + [Case(name, baselines[name], sampled=False) for name in e.baselines]
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


def _counters(llm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in llm.get_metrics():
        if metric.name in SPEC_COUNTERS:
            out[metric.name] = metric.value
        elif metric.name == PER_POS:
            out[metric.name] = list(metric.values)
    return out


def spec_stats(before: dict, after: dict) -> dict | None:
    """Acceptance over the generations between two counter snapshots (None: no speculation)."""
    if SPEC_COUNTERS[0] not in after:
        return None
    delta = {k: after[k] - before.get(k, 0) for k in SPEC_COUNTERS}
    drafts, draft_tokens, accepted = (delta[k] for k in SPEC_COUNTERS)
    after_pos = after.get(PER_POS, [])
    per_pos = [a - b for a, b in zip(after_pos, before.get(PER_POS, [0] * len(after_pos)), strict=False)]
    return {
        "drafts": drafts,
        "draft_tokens": draft_tokens,
        "accepted_tokens": accepted,
        "acceptance_rate": accepted / draft_tokens if draft_tokens else 0.0,
        "mean_acceptance_length": 1 + accepted / drafts if drafts else 1.0,
        "accept_per_pos": [a / drafts if drafts else 0.0 for a in per_pos],
    }


def _generate(llm, prompts: list[list[int]], params, batch_size: int) -> tuple[list[list[int]], float]:
    outputs, start = [], time.perf_counter()
    for i in range(0, len(prompts), batch_size):
        chunk = [{"prompt_token_ids": p} for p in prompts[i : i + batch_size]]
        outputs += [list(o.outputs[0].token_ids) for o in llm.generate(chunk, params, use_tqdm=False)]
    return outputs, time.perf_counter() - start


def measure_case(
    model: ModelRef,
    engine: VLLMEngineConfig,
    case: Case,
    prompts: list[list[int]],
    max_tokens: int,
    batch_sizes: list[int],
    repeats: int,
    sampled_temperature: float,
) -> dict:
    """One engine configuration, in this process: tok/s per batch size (median of repeats),
    greedy outputs at batch 1, vLLM's acceptance (greedy, and sampled when asked). The base is
    resolved on this node, and a drafter on shared storage is copied here (vLLM reads local files)."""
    from vllm import SamplingParams

    path = model.path()
    engine.check_supports(path)
    spec = dict(case.speculative_config or {})
    drafter = spec.get("model")
    if drafter:
        spec["model"] = local_copy(drafter)
    extra = {"speculative_config": spec} if spec else {}
    llm = start_llm(path, engine, disable_log_stats=False, **extra)
    greedy = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    llm.generate(
        [{"prompt_token_ids": prompts[0]}], SamplingParams(max_tokens=16, temperature=0.0), use_tqdm=False
    )  # warm-up
    result: dict[str, Any] = {
        "name": case.name,
        "speculative_config": case.speculative_config,
        "measured_on": engine_device(engine),
        "tok_s": {},
        "tok_s_repeats": {},
    }
    outputs: list[list[int]] = []
    for bs in batch_sizes:
        rates = []
        before = _counters(llm)
        for r in range(repeats):
            outs, seconds = _generate(llm, prompts, greedy, bs)
            rates.append(sum(map(len, outs)) / seconds)
            print(f"[vllm-eval] {case.name} batch={bs} repeat {r + 1}/{repeats}: {rates[-1]:.1f} tok/s", flush=True)
            if bs == 1 and not outputs:
                outputs = outs
        result["tok_s"][bs] = statistics.median(rates)
        result["tok_s_repeats"][bs] = rates
        if bs == batch_sizes[0]:
            result["greedy"] = spec_stats(before, _counters(llm))
    result["outputs"] = outputs or _generate(llm, prompts, greedy, 1)[0]
    if case.speculative_config and case.sampled and sampled_temperature > 0:
        before = _counters(llm)
        sampled = engine.sampling_params({"max_tokens": max_tokens, "temperature": sampled_temperature, "seed": 0})
        _generate(llm, prompts, SamplingParams(**sampled), 1)
        stats = spec_stats(before, _counters(llm))
        assert stats is not None  # a speculative engine has the counters
        result["sampled"] = {"temperature": sampled_temperature, **stats}
    return result


def _failed(case: Case, error: str) -> dict:
    return {"name": case.name, "speculative_config": case.speculative_config, "error": error}


@ray.remote(max_calls=1)  # a fresh process per engine: nothing left over from the one before
def _measure_task(model: ModelRef, engine: VLLMEngineConfig, case: Case, *args) -> dict:
    try:
        return measure_case(model, engine, case, *args)
    except Exception as e:
        return _failed(case, f"{type(e).__name__}: {e}")


def _measured_or_error(task, case: Case, *args) -> dict:
    """A case whose engine fails (to start, or while it runs) is recorded as its error."""
    try:
        result: dict = ray.get(task.remote(*args))
    except ray.exceptions.RayError as e:  # the process itself died (a crash, out of memory)
        result = _failed(case, f"{type(e).__name__}: {e}")
    if "error" in result:
        print(
            f"[vllm-eval] {case.name}: the engine failed, recorded as an error; "
            f"the other cases go on: {result['error']}",
            flush=True,
        )
    return result


def measure_speculative_decoding(
    model: ModelRef,
    engine: VLLMEngineConfig,
    cases: list[Case],
    prompts: list[list[int]],
    max_tokens: int,
    batch_sizes: list[int],
    repeats: int,
    sampled_temperature: float,
) -> dict:
    """Every case, one after the other (they must not compete for the cores they are timed on).
    Speedups and output equality are against `none`, where it ran."""
    resources = {"num_cpus": engine.cpus_per_engine, "num_gpus": engine.gpus_per_engine}
    task = _measure_task.options(**resources, runtime_env={"env_vars": {**engine.engine_env(), **NO_PLUGINS}})
    results = {}
    for case in cases:
        results[case.name] = _measured_or_error(
            task, case, model, engine, case, prompts, max_tokens, batch_sizes, repeats, sampled_temperature
        )
    plain = results["none"]
    for r in results.values():
        if "error" in r or "error" in plain:
            continue
        same = [a == b for a, b in zip(r["outputs"], plain["outputs"], strict=False)]
        r["outputs_equal_plain"] = sum(same) / max(len(same), 1)
        r["speedup"] = {bs: r["tok_s"][bs] / plain["tok_s"][bs] for bs in r["tok_s"]}
    return results
