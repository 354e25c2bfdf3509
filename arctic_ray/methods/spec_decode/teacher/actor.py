"""The co-located teacher: one vLLM engine in a Ray actor on the training workers' node,
generating continuations for the trainer while it trains.

Rows arrive with their prompt token ids, token budget and store key. Answers already in the
generation store are returned without generating. The teacher is a feeder of the shared loop
(`train/feeder.py`): its credits keep it at most `max_ahead_rows` rows ahead of what the training
ranks report consumed. Rows the engine cannot serve are answered with an error and kept aside
with their reason. Keys are logged as sent when handed to the engine and settled when they fail
(`synth/sent_log.py`): `counts["resent_after_crash"]` is how many requests an earlier run's engine
was working on when it stopped were generated again.

Credits, counts and set-aside rows live in the teacher's ledger (`ledger.py`): when the teacher's
process dies, Ray starts it again on its node (`max_restarts`) and asks it the calls it was on
(`max_task_retries`); answers stored before the death come from the store, and training goes on.

With `layers` set, the same engine also gives the target's hidden states of finished training
rows (`features`), so the trainers never run the target themselves: captured while it generated
them (`one_pass.py`), or for rows it did not generate (stored answers), by a prefill of each
sequence with the capture hooks on."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import numpy as np
import ray

from arctic_ray.engines.vllm.answers import answer_columns
from arctic_ray.engines.vllm.hidden_states import (
    RequestStates,
    feature_engine_kwargs,
    match_features,
    prefill_params,
    start_capture,
    states_by_request,
    stop_capture,
)
from arctic_ray.engines.vllm.settings import VLLMEngineConfig
from arctic_ray.methods.spec_decode.teacher.ledger import call_id
from arctic_ray.methods.spec_decode.teacher.one_pass import CapturedFeatures
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore

logger = logging.getLogger(__name__)


@ray.remote(max_restarts=0)  # start_teacher sets the restarts the recipe allows
class TeacherActor:
    def __init__(
        self,
        model: ModelRef,
        engine: VLLMEngineConfig,
        store_dir: str,
        ledger,
        layers: list[int] | None = None,
        features_dtype: str = "float32",
    ):
        from arctic_ray.engines.vllm.loop import EngineLoop
        from arctic_ray.engines.vllm.settings import start_llm

        self.ledger = ledger  # first: a restart is on record before the engine takes its time to start
        ray.get(ledger.started.remote(ray.get_runtime_context().get_actor_id()))
        self.model_name = model.name
        self.engine = engine
        self.layers, self.features_dtype = layers, features_dtype
        extra = feature_engine_kwargs(engine.max_model_len) if layers is not None else {}
        self.loop = EngineLoop(lambda: start_llm(model.path(), engine, **extra))  # resolved on this node
        self.store = GenerationStore(store_dir)
        self.store.refresh()  # what earlier runs stored; from here on this actor adds its own
        self.sent_log = SentLog(store_dir)
        self.sent_log.refresh()  # what earlier runs sent: a key sent, unsettled and unanswered was in flight
        self.engine_lock = asyncio.Lock()
        self.busy_s = self.prefill_s = 0.0  # of this process: generating, prefilling for features
        self.captured = CapturedFeatures()
        self.feature_rows = {"one_pass": 0, "prefill": 0}  # of this process

    async def generate(self, rows: list[dict]) -> list[dict]:
        """rows: `id`, `key`, `prompt_token_ids`, `max_tokens`, `sampling` -> rows with the
        schema's answer columns (`completion_token_ids`, `finish_reason`, `error`, ...)."""
        call = call_id(rows)
        await self.ledger.take.remote(call, len(rows))
        stored = self.store.get_many((r["key"] for r in rows), refresh=False)
        todo = [r for r in rows if r["key"] not in stored]
        fresh: dict[str, dict] = {}
        counts = {"generated": 0, "reused": 0, "errors": 0, "resent_after_crash": 0}
        if todo:
            keys = [r["key"] for r in todo]
            counts["resent_after_crash"] = len(self.sent_log.in_flight(keys, refresh=False))
            await asyncio.to_thread(self.sent_log.record, keys)
            async with self.engine_lock:
                start = time.time()
                fresh = await self._generate(todo)
                self.busy_s += time.time() - start
            self.store.put_many([a for a in fresh.values() if not a["error"]])
            self.sent_log.settle([k for k, a in fresh.items() if a["error"]])
        out = []
        for row in rows:
            # a stored answer has no `error` column (only answers without one are stored)
            answer = {"error": "", **(stored.get(row["key"]) or fresh[row["key"]])}
            counts["reused" if row["key"] in stored else ("errors" if answer["error"] else "generated")] += 1
            out.append({**row, **{k: v for k, v in answer.items() if k != "key"}})
        failed = [{"stage": "teacher", "id": r["id"], "reason": r["error"]} for r in out if r["error"]]
        await self.ledger.delivered.remote(call, counts, failed)
        return out

    async def features(self, sequences: list[list[int]]) -> list:
        """The target's hidden states of each sequence ([T, F] arrays, `match_features`): as
        captured while this process generated it, or from a prefill."""
        captured = [self.captured.take(s) for s in sequences]
        todo = [s for s, f in zip(sequences, captured, strict=True) if f is None]
        self.feature_rows["one_pass"] += len(sequences) - len(todo)
        self.feature_rows["prefill"] += len(todo)
        prefilled = iter(await self._prefill(todo) if todo else [])
        return [next(prefilled) if f is None else f for f in captured]

    async def _prefill(self, sequences: list[list[int]]) -> list:
        layers = self.layers
        assert layers is not None  # only a teacher started with `layers` is asked for features
        async with self.engine_lock:  # nothing else runs on the engine while the hooks are on
            start = time.time()
            _, records = await self._generate_capturing(
                [{"prompt_token_ids": s} for s in sequences], [prefill_params()] * len(sequences), layers
            )
            self.prefill_s += time.time() - start
        return match_features(records, sequences, layers, np.dtype(self.features_dtype))

    async def _generate(self, rows: list[dict]) -> dict[str, dict]:
        from vllm import SamplingParams

        answers: dict[str, dict] = {}
        servable = []
        for row in rows:
            problem = self._problem(row)
            if problem:
                answers[row["key"]] = self._answer(row, error=problem)
            else:
                servable.append(row)
        params = [
            SamplingParams(**self.engine.sampling_params({**row["sampling"], "max_tokens": row["max_tokens"]}))
            for row in servable
        ]
        prompts = [{"prompt_token_ids": list(row["prompt_token_ids"])} for row in servable]
        layers = self.layers
        if not servable:
            return answers
        states: dict[str, RequestStates] = {}
        if layers is None:
            results = await self.loop.generate(prompts, params)
        else:  # the target's states of what it generates, captured on the way (`one_pass.py`)
            results, records = await self._generate_capturing(prompts, params, layers)
            try:
                states = states_by_request(records, layers, np.dtype(self.features_dtype))
            except RuntimeError as err:  # the answers stand; their rows are prefilled instead
                logger.warning("teacher: the capture while generating is incomplete (%s); prefilling", err)
        for row, result in zip(servable, results, strict=False):
            answers[row["key"]] = self._answer(row, result=result)
        if states:
            self.captured.add(
                [
                    (list(row["prompt_token_ids"]) + list(answers[row["key"]]["completion_token_ids"]), got)
                    for row, result in zip(servable, results, strict=False)
                    if (got := states.get(getattr(result, "request_id", ""))) is not None
                ]
            )
        return answers

    async def _generate_capturing(self, prompts: list, params: list, layers: list[int]) -> tuple[list, list[dict]]:
        """`generate_capturing` through the engine loop (the caller holds the engine lock)."""
        await self.loop.call(lambda llm: start_capture(llm, layers))
        try:
            results = await self.loop.generate(prompts, params)
        finally:
            records = await self.loop.call(stop_capture)
        return results, records

    def _problem(self, row: dict) -> str:
        n = len(row["prompt_token_ids"])
        if n == 0:
            return "empty prompt"
        if n >= self.engine.max_model_len:
            return f"prompt of {n} tokens does not fit max_model_len {self.engine.max_model_len}"
        return ""

    def _answer(self, row: dict, result=None, error: str = "") -> dict:
        return {"key": row["key"], **answer_columns(result, self.model_name, row["prompt_token_ids"], error)}

    def stats(self) -> dict:
        """This process's engine time and id (the ledger has the counts)."""
        return {
            "busy_s": round(self.busy_s, 2),
            "prefill_s": round(self.prefill_s, 2),
            "feature_rows": dict(self.feature_rows),
            "recomputed_states": self.captured.recomputed,
            "pid": os.getpid(),
        }
