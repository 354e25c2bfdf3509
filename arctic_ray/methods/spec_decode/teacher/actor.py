"""The co-located teacher: one vLLM engine in a Ray actor on the training workers' node,
generating continuations for the trainer while it trains.

Rows arrive with their prompt token ids, token budget and store key. Answers already in the
generation store are returned without generating. The teacher is a feeder of the shared loop
(`train/feeder.py`): its credits keep it at most `max_ahead_rows` rows ahead of what the training
ranks report consumed. Rows the engine cannot serve are answered with an error and kept aside
with their reason. Keys are logged as sent when handed to the engine and settled when they fail
(`synth/sent_log.py`): `counts["resent_after_crash"]` is how many requests an earlier run's engine
was working on when it stopped were generated again.

With `layers` set, the same engine also gives the target's hidden states of finished training
rows (`features`): a prefill of each sequence with the capture hooks on, so the trainers never
run the target themselves."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import ray

from arctic_ray.engines.vllm.answers import answer_columns
from arctic_ray.engines.vllm.hidden_states import (
    feature_engine_kwargs,
    match_features,
    prefill_params,
    start_capture,
    stop_capture,
)
from arctic_ray.engines.vllm.settings import VLLMEngineConfig
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore
from arctic_ray.train.feeder import Credits


@ray.remote(max_restarts=0)
class TeacherActor:
    def __init__(
        self,
        model: ModelRef,
        engine: VLLMEngineConfig,
        store_dir: str,
        max_ahead_rows: int,
        layers: list[int] | None = None,
        features_dtype: str = "float32",
    ):
        from arctic_ray.engines.vllm.loop import EngineLoop
        from arctic_ray.engines.vllm.settings import start_llm

        self.model_name = model.name
        self.engine = engine
        self.layers, self.features_dtype = layers, features_dtype
        extra = feature_engine_kwargs(engine.max_model_len) if layers is not None else {}
        self.loop = EngineLoop(lambda: start_llm(model.path(), engine, **extra))  # resolved on this node
        self.store = GenerationStore(store_dir)
        self.store.refresh()  # what earlier runs stored; from here on this actor adds its own
        self.sent_log = SentLog(store_dir)
        self.sent_log.refresh()  # what earlier runs sent: a key sent, unsettled and unanswered was in flight
        self.credits = Credits(max_ahead_rows)
        self.engine_lock = asyncio.Lock()
        self.busy_s = self.features_s = 0.0
        self.first_call = self.last_done = None
        self.counts = {"generated": 0, "reused": 0, "errors": 0, "resent_after_crash": 0}
        self.set_aside: list[dict] = []

    async def generate(self, rows: list[dict]) -> list[dict]:
        """rows: `id`, `key`, `prompt_token_ids`, `max_tokens`, `sampling` -> rows with the
        schema's answer columns (`completion_token_ids`, `finish_reason`, `error`, ...)."""
        self.first_call = self.first_call or time.time()
        await self.credits.take(len(rows))
        stored = self.store.get_many((r["key"] for r in rows), refresh=False)
        todo = [r for r in rows if r["key"] not in stored]
        fresh: dict[str, dict] = {}
        if todo:
            keys = [r["key"] for r in todo]
            self.counts["resent_after_crash"] += len(self.sent_log.in_flight(keys, refresh=False))
            await asyncio.to_thread(self.sent_log.record, keys)
            async with self.engine_lock:
                start = time.time()
                fresh = await self._generate(todo)
                self.busy_s += time.time() - start
            self.store.put_many([a for a in fresh.values() if not a["error"]])
            self.sent_log.settle([k for k, a in fresh.items() if a["error"]])
        self.last_done = time.time()
        out = []
        for row in rows:
            # a stored answer has no `error` column (only answers without one are stored)
            answer = {"error": "", **(stored.get(row["key"]) or fresh[row["key"]])}
            self.counts["reused" if row["key"] in stored else ("errors" if answer["error"] else "generated")] += 1
            out.append({**row, **{k: v for k, v in answer.items() if k != "key"}})
        failed = [r for r in out if r["error"]]
        self.set_aside += [{"stage": "teacher", "id": r["id"], "reason": r["error"]} for r in failed]
        self.credits.give_back(len(failed))
        return out

    async def features(self, sequences: list[list[int]]) -> list:
        """The target's hidden states of each sequence ([T, F] arrays, `match_features`)."""
        if not sequences:
            return []
        layers = self.layers
        assert layers is not None  # only a teacher started with `layers` is asked for features
        async with self.engine_lock:  # nothing else runs on the engine while the hooks are on
            start = time.time()
            await self.loop.call(lambda llm: start_capture(llm, layers))
            try:
                await self.loop.generate(
                    [{"prompt_token_ids": s} for s in sequences], [prefill_params()] * len(sequences)
                )
            finally:
                records = await self.loop.call(stop_capture)
            self.features_s += time.time() - start
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
        results = await self.loop.generate(prompts, params) if servable else []
        for row, result in zip(servable, results, strict=False):
            answers[row["key"]] = self._answer(row, result=result)
        return answers

    def _problem(self, row: dict) -> str:
        n = len(row["prompt_token_ids"])
        if n == 0:
            return "empty prompt"
        if n >= self.engine.max_model_len:
            return f"prompt of {n} tokens does not fit max_model_len {self.engine.max_model_len}"
        return ""

    def _answer(self, row: dict, result=None, error: str = "") -> dict:
        return {"key": row["key"], **answer_columns(result, self.model_name, row["prompt_token_ids"], error)}

    async def release(self, n: int, reasons: list[dict] | None = None) -> None:
        """`n` rows handed out will never reach the trainer (set aside, with `reasons`, or used
        outside the stream)."""
        self.set_aside += reasons or []
        self.credits.give_back(n)

    async def consumed(self, n: int) -> None:
        """A training rank consumed `n` rows (the feeder protocol)."""
        self.credits.consumed(n)

    def stats(self) -> dict:
        span = (self.last_done or time.time()) - (self.first_call or time.time())
        return {
            **self.counts,
            **self.credits.counts,
            "busy_s": round(self.busy_s, 2),
            "features_s": round(self.features_s, 2),
            "busy_fraction": self.busy_s / span if span > 0 else 0.0,
            "max_ahead_rows": self.credits.max_ahead,
            "first_call": self.first_call,
            "last_done": self.last_done,
        }

    def set_aside_rows(self) -> list[dict]:
        return list(self.set_aside)
