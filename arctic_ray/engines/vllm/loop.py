"""One in-process vLLM engine serving many concurrent callers with continuous batching.

`vllm.LLM.chat` runs the engine until its own requests are done, so a caller's last rows would
leave the engine's slots empty until the next call. Here callers enqueue their requests and await
the outputs, while one thread keeps stepping the engine with every caller's requests.

That thread also builds the engine and is the only one that touches it: on CPU, vLLM binds its
OpenMP threads to the thread that started it, and steps run from any other thread are slower
(an actor's event loop thread slower still)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

# How a job adds its requests: (llm, prompts or conversations, params) -> the engine's request ids.
Enqueue = Callable[[Any, list, list], list[str]]


def _chats(llm: Any, conversations: list, params: list) -> list[str]:
    return llm.enqueue_chat(conversations, params, use_tqdm=False)


def _prompts(llm: Any, prompts: list, params: list) -> list[str]:
    return llm.enqueue(prompts, params, use_tqdm=False)


class EngineLoop:
    def __init__(self, start: Callable[[], Any]):
        """`start` builds the `vllm.LLM`; its failure is raised here."""
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.failure: BaseException | None = None
        """What the engine failed with mid-step: it serves nothing more (every caller hears this)."""
        started: Future = Future()
        threading.Thread(target=self._serve, args=(start, started), name="vllm-engine", daemon=True).start()
        started.result()

    async def chat(self, conversations: list[list[dict]], params: list[Any]) -> list[Any]:
        """One output per conversation: a finished `RequestOutput`, or the exception the engine
        raised when it was given that conversation (the others are served regardless)."""
        return await self._submit(_chats, conversations, params)

    async def generate(self, prompts: list[Any], params: list[Any]) -> list[Any]:
        """As `chat`, for prompts (`{"prompt_token_ids": [...]}` or text)."""
        return await self._submit(_prompts, prompts, params)

    async def call(self, fn: Callable[[Any], Any]) -> Any:
        """`fn(llm)` run on the engine's thread between two steps (e.g. a `collective_rpc`); its result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((_Call(fn), [None], [None], [future], loop))
        return await future

    async def _submit(self, enqueue: Enqueue, items: list, params: list) -> list[Any]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self.jobs.put((enqueue, items, params, futures, loop))
        return list(await asyncio.gather(*futures))

    def _serve(self, start: Callable[[], Any], started: Future) -> None:
        try:
            llm = start()
        except BaseException as err:
            started.set_exception(err)
            return
        started.set_result(None)
        engine = llm.llm_engine
        waiting: dict[str, tuple[asyncio.Future, asyncio.AbstractEventLoop]] = {}
        dead: BaseException | None = None
        while True:
            for job in self._new_jobs(block=dead is not None or not engine.has_unfinished_requests()):
                if dead is None:
                    self._add(llm, job, waiting)
                else:  # the engine failed earlier: nothing more is served
                    for future in job[3]:
                        _settle(job[4], future, dead, failed=True)
            if dead is not None or not engine.has_unfinished_requests():
                continue
            try:
                outputs = engine.step()
            except BaseException as err:
                dead = self.failure = err
                for future, loop in waiting.values():
                    _settle(loop, future, err, failed=True)
                waiting.clear()
                continue
            for output in outputs:
                if output.finished and output.request_id in waiting:
                    future, loop = waiting.pop(output.request_id)
                    _settle(loop, future, output)

    def _new_jobs(self, block: bool) -> list:
        jobs = []
        try:
            jobs.append(self.jobs.get(block=block))
            while True:
                jobs.append(self.jobs.get_nowait())
        except queue.Empty:
            return jobs

    @staticmethod
    def _add(llm: Any, job: tuple, waiting: dict) -> None:
        enqueue, items, params, futures, loop = job
        if isinstance(enqueue, _Call):
            try:
                _settle(loop, futures[0], enqueue.fn(llm))
            except Exception as err:
                _settle(loop, futures[0], err, failed=True)
            return
        try:
            ids: list[str | Exception] = list(enqueue(llm, items, params))
        except Exception:
            ids = [_one(enqueue, llm, item, param) for item, param in zip(items, params, strict=False)]
        for request_id, future in zip(ids, futures, strict=False):
            if isinstance(request_id, Exception):
                _settle(loop, future, request_id)
            else:
                waiting[external_request_id(request_id)] = (future, loop)


class _Call:
    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn


def _one(enqueue: Enqueue, llm: Any, item: Any, param: Any) -> str | Exception:
    try:
        return enqueue(llm, [item], [param])[0]
    except Exception as err:
        return err


def external_request_id(request_id: str) -> str:
    """Outputs carry the id `vllm.LLM` gave a request (a counter); adding it returns the engine's
    internal id, that counter with a random suffix."""
    return request_id.split("-", 1)[0]


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future, result: Any, failed: bool = False) -> None:
    def settle() -> None:
        if not future.done():
            future.set_exception(result) if failed else future.set_result(result)

    loop.call_soon_threadsafe(settle)
