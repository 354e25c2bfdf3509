"""The target's hidden states for the training rows, computed by vLLM engines
(`engines/vllm/hidden_states.py`): a Ray Data stage of engine actors, each prefilling its rows'
sequences once. Offline, the rows with their features are written once into the run directory
(`features/`, Parquet, their size counted) and read back each epoch; online the teacher's own
engine does the same for the rows it generated."""

from __future__ import annotations

import numpy as np
import ray.data

from arctic_ray.core.config import bounds
from arctic_ray.engines.vllm.hidden_states import engine_features, feature_engine_kwargs
from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

FEATURES_DIR = "features"
"""Under a run directory: `train/` and `eval/`, the rows with their features (Parquet)."""


def row_sequences(batch: dict) -> list[list[int]]:
    """Each training row's real tokens (its padding is not part of the sequence)."""
    return [list(map(int, ids[:n])) for ids, n in zip(batch["input_ids"], batch["length"], strict=False)]


def ragged(arrays: list[np.ndarray]) -> np.ndarray:
    """One array per row, of different lengths, as a column (numpy would stack equal shapes)."""
    column = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        column[i] = a
    return column


class FeatureEngine:
    def __init__(self, model: ModelRef, engine: VLLMEngineConfig, layers: list[int], dtype: str):
        self.llm = start_llm(model.path(), engine, **feature_engine_kwargs(engine.max_model_len))
        self.layers, self.dtype = layers, np.dtype(dtype)

    def __call__(self, batch: dict) -> dict:
        features = engine_features(self.llm, row_sequences(batch), self.layers, self.dtype)
        return {**batch, "features": ragged(features)}


def with_engine_features(
    rows: ray.data.Dataset, model: ModelRef, engine: VLLMSynthConfig, layers: list[int], dtype: str
) -> ray.data.Dataset:
    """`rows` with a `features` column, from the pool of engines `engine` describes."""
    low, high = bounds(engine.concurrency)
    return rows.map_batches(
        FeatureEngine,
        fn_constructor_args=(model, engine, list(layers), dtype),
        batch_size=engine.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=low, max_size=high),
        num_cpus=engine.cpus_per_engine,
        num_gpus=engine.gpus_per_engine,
        runtime_env={"env_vars": engine.engine_env()},
    )
