"""The target's hidden states for the training rows, computed by vLLM engines
(`engines/vllm/hidden_states.py`): a Ray Data stage of engine actors, each prefilling its rows'
sequences once. Offline, the rows with their features are written once into the run directory
(`features/`, Parquet, their size counted) and read back each epoch; online the teacher's own
engine does the same for the rows it generated.

An engine that dies is restarted by Ray Data and its batch retried; a row that kills the engine
every time is found by the engine guard (`engines/vllm/deaths/guard.py`) and comes out with its
reason in `feature_error` (and no features), to be set aside rather than trained on."""

from __future__ import annotations

import asyncio
import hashlib
import json

import numpy as np
import ray.data

from arctic_ray.core.config import bounds
from arctic_ray.engines.vllm.deaths import crash_hook
from arctic_ray.engines.vllm.deaths.guard import EngineGuard
from arctic_ray.engines.vllm.deaths.ledger import RowId, ledger_for, take_counts
from arctic_ray.engines.vllm.hidden_states import engine_features, feature_engine_kwargs
from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

FEATURES_DIR = "features"
"""Under a run directory: `train/` and `eval/`, the rows with their features (Parquet)."""

FEATURE_ERROR = "feature_error"
"""Why a row has no features ("" when it has them): the engine died with it alone on it."""


def row_sequences(batch: dict) -> list[list[int]]:
    """Each training row's real tokens (its padding is not part of the sequence)."""
    return [list(map(int, ids[:n])) for ids, n in zip(batch["input_ids"], batch["length"], strict=False)]


def ragged(arrays: list[np.ndarray]) -> np.ndarray:
    """One array per row, of different lengths, as a column (numpy would stack equal shapes)."""
    column = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        column[i] = a
    return column


def sequence_id(sequence: list[int]) -> RowId:
    """A row's identity across retries: its tokens (equal sequences fail alike)."""
    return ("", hashlib.blake2b(np.asarray(sequence, dtype=np.int64).tobytes(), digest_size=12).hexdigest())


class FeatureEngine:
    def __init__(self, model: ModelRef, engine: VLLMEngineConfig, layers: list[int], dtype: str, ledger=None):
        self.guard = EngineGuard(ledger)
        self.llm = start_llm(model.path(), engine, **feature_engine_kwargs(engine.max_model_len))
        self.layers, self.dtype = layers, np.dtype(dtype)
        self.width = (len(layers) + 1) * self.llm.llm_engine.model_config.get_hidden_size()
        self.one_at_a_time = asyncio.Lock()  # the capture hooks see every forward of the engine

    async def __call__(self, batch: dict) -> dict:
        rows = [{"sequence": s} for s in row_sequences(batch)]
        out = await self.guard.run(rows, [sequence_id(r["sequence"]) for r in rows], self._features, self._set_aside)
        return {
            **batch,
            "features": ragged([o["features"] for o in out]),
            FEATURE_ERROR: np.array([o["error"] for o in out], dtype=object),
        }

    async def _features(self, rows: list[dict], deaths: list[int]) -> list[dict]:
        sequences = [r["sequence"] for r in rows]
        if crash_hook.armed():  # test only: inert unless its environment variable is set
            tokenizer = self.llm.get_tokenizer()
            crash_hook.crash_if_marked([tokenizer.decode(s) for s in sequences], deaths)
        async with self.one_at_a_time:
            got = await asyncio.to_thread(engine_features, self.llm, sequences, self.layers, self.dtype)
        return [{"features": f, "error": ""} for f in got]

    def _set_aside(self, _row: dict, why: str) -> dict:
        return {"features": np.zeros((0, self.width), dtype=self.dtype), "error": why}


def with_engine_features(
    rows: ray.data.Dataset, model: ModelRef, engine: VLLMSynthConfig, layers: list[int], dtype: str
) -> ray.data.Dataset:
    """`rows` with a `features` column (and `feature_error`), from the pool of engines `engine`
    describes; their restarts and set-aside rows are counted by `engine_counts`."""
    low, high = bounds(engine.concurrency)
    return rows.map_batches(
        FeatureEngine,
        fn_constructor_args=(
            model,
            engine,
            list(layers),
            dtype,
            ledger_for(_key(model), f"feature engines of {model.name}"),
        ),
        batch_size=engine.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=low, max_size=high),
        num_cpus=engine.cpus_per_engine,
        num_gpus=engine.gpus_per_engine,
        # Ray Data's own defaults, relied on: a dead engine actor is started again and its tasks
        # retried; the guard bounds what a row may cost.
        max_restarts=-1,
        max_task_retries=-1,
        runtime_env={"env_vars": {**engine.engine_env(), **crash_hook.forwarded()}},
    )


def features_key(model: ModelRef, layers: list[int], dtype: str, rows: ray.data.Dataset) -> str:
    """What a row set's features depend on: the base's identity, the captured layers, the dtype
    and every row's real tokens (in any order; the driver gets one partial sum per batch)."""

    def partial_sums(batch: dict) -> dict:
        total = sum(int(sequence_id(s)[1], 16) for s in row_sequences(batch)) % ROWS_MODULUS
        return {"sum": np.array([str(total)]), "rows": np.array([len(batch["length"])])}

    parts = rows.select_columns(["input_ids", "length"]).map_batches(partial_sums, batch_format="numpy")  # pyright: ignore[reportArgumentType]  # Ray types fn for any batch format
    total, count = 0, 0
    for part in parts.iter_rows():
        total, count = (total + int(part["sum"])) % ROWS_MODULUS, count + int(part["rows"])
    what = {"model": model.key, "layers": list(layers), "dtype": dtype, "rows": count, "tokens": f"{total:x}"}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


ROWS_MODULUS = 1 << 96
"""Row digests (12 bytes each) are summed modulo this: the order of rows does not matter."""


def with_features_only(stored: ray.data.Dataset) -> ray.data.Dataset:
    """The stored rows that have features (the trainable ones)."""
    return stored.filter(expr=f"{FEATURE_ERROR} == ''").drop_columns([FEATURE_ERROR])


def without_features(stored: ray.data.Dataset) -> list[dict]:
    """The stored rows an engine kept dying on, as rejects (their tokens and the reason)."""
    failed = stored.filter(expr=f"{FEATURE_ERROR} != ''").drop_columns(["features"])
    return [
        {"stage": "features", "reason": r[FEATURE_ERROR], "input_ids": r["input_ids"][: r["length"]].tolist()}
        for r in failed.iter_rows()
    ]


def engine_counts(model: ModelRef) -> dict[str, int]:
    """Engine restarts, retried batches and rows set aside by this Ray job's feature engines."""
    return take_counts(_key(model))


def _key(model: ModelRef) -> tuple[str, str]:
    return ("features", model.key)
