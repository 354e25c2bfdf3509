"""What every ArcticTraining-style client shares: chats accumulate per task name (custom_id
`<task>_<i>`, their convention), and executing a task is one `synthesize` call per model over a
generation store under the work dir, so executing it again pays for nothing twice.

Subclasses say how one of their request dicts becomes a request row (`_chat`), which model it
goes to (`_target`), and what one answered request looks like in their response shape
(`_response`). A request that fails keeps its place in the responses, in their shape with an
`error` (`_failed`), so responses line up with requests (theirs dropped it, or raised); it is also
in `errors[task_name]` and `<work_dir>/<task>/errors.jsonl`, with its reason, and logged."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections import defaultdict
from typing import Any, Generic, TypeVar

from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.synthesize import expand_samples, synthesize

log = logging.getLogger(__name__)

S = TypeVar("S", bound=SynthConfig)

STORE_DIR = ".generation_store"
"""Under the work dir: one content-keyed store shared by every task there."""


class BatchTaskClient(Generic[S]):
    """`S`: the backend config a subclass runs on."""

    def __init__(self, synth: S, work_dir: str | None):
        self.synth = synth
        self.work_dir = work_dir
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.errors: dict[str, list[dict]] = {}
        """Per task, the requests its last execution did not answer: `custom_id` and `error`."""
        self.counts: dict[str, dict[str, int]] = {}
        """Per task, what its last execution sent, took from the store, and lost."""
        # Their in-memory clients keep nothing without a work dir; the store still needs a home.
        self._scratch = None if work_dir else tempfile.TemporaryDirectory(prefix="arctic_synth-")

    # -- what a subclass defines -------------------------------------------------------------

    def _chat(self, request: dict) -> tuple[str, dict, int]:
        """(model, request row with `id`, `messages`, `sampling`; number of samples)."""
        raise NotImplementedError

    def _target(self, model: str, store: str, run_dir: str) -> Target:
        return Target(model=model, model_name=model, model_key=model, store=store, run_dir=run_dir)

    def _response(self, request: dict, answers: list[dict]) -> Any:
        """Their response for one request from its answered rows (one per sample, in order)."""
        raise NotImplementedError

    def _failed(self, request: dict, reason: str) -> Any:
        """Their response for a request that failed: its place kept, with the reason."""
        return {"custom_id": request["custom_id"], "response": None, "error": reason}

    def _synth_for(self, requests: list[dict]) -> S:
        """The backend config for executing these requests."""
        return self.synth

    def _ordered(self, responses: list) -> list:
        """Responses in the order their `execute_batch_task` returns them (here: request order)."""
        return responses

    # -- their task bookkeeping --------------------------------------------------------------

    @property
    def _root(self) -> str:
        if self.work_dir:
            return self.work_dir
        assert self._scratch is not None  # made in __init__ when there is no work dir
        return self._scratch.name

    def _new_custom_id(self, task_name: str) -> str:
        return f"{task_name}_{len(self.requests[task_name])}"

    def _task_dir(self, task_name: str) -> str:
        return os.path.join(self._root, task_name)

    def save_batch_task(self, task_name: str) -> None:
        write_jsonl(os.path.join(self._task_dir(task_name), "requests", f"{task_name}.jsonl"), self.requests[task_name])

    def execute_batch_task(self, task_name: str) -> list:
        requests = self.requests[task_name]
        if self.work_dir:
            self.save_batch_task(task_name)
        answers, refused, counts = self._synthesize(task_name, requests)
        responses, errors = [], []
        for request in requests:
            cid = request["custom_id"]
            rows = sorted(answers.get(cid, []), key=lambda r: r.get("sample", 0))
            failed = [r["error"] for r in rows if r.get("error")]
            if cid in refused or failed or not rows:
                reason = refused.get(cid) or (failed[0] if failed else "no answer")
                errors.append({"custom_id": cid, "error": reason})
                responses.append(self._failed(request, reason))
            else:
                responses.append(self._response(request, rows))
        responses = self._ordered(responses)
        counts["failed"] = len(errors)
        self.errors[task_name], self.counts[task_name] = errors, counts
        if errors:
            log.warning(
                "task %s: %d of %d requests failed (see .errors[%r])", task_name, len(errors), len(requests), task_name
            )
        if self.work_dir:
            write_jsonl(os.path.join(self._task_dir(task_name), "results.jsonl"), responses)
            write_jsonl(os.path.join(self._task_dir(task_name), "errors.jsonl"), errors)
        return responses

    def _synthesize(self, task_name: str, requests: list[dict]) -> tuple[dict, dict, dict]:
        """Answered rows by custom_id, refused custom_ids with the reason, and counts: one
        synthesize call per model."""
        by_model: dict[str, list[dict]] = defaultdict(list)
        for request in requests:
            model, row, samples = self._chat(request)
            by_model[model] += expand_samples([row], samples)
        answers: dict[str, list[dict]] = defaultdict(list)
        refused: dict[str, str] = {}
        counts = {"sent": 0, "from_store": 0}
        store = os.path.join(self._root, STORE_DIR)
        synth = self._synth_for(requests)
        for model, rows in by_model.items():
            # A run dir per task and model: where a backend finds its own bookkeeping (a submitted
            # batch) again when the task is executed after a crash.
            run_dir = os.path.join(self._task_dir(task_name), "runs", _slug(model))
            result = synthesize(rows, synth, self._target(model, store, run_dir))
            refused.update({_custom_id(r["row"]): f"refused: {r['reason']}" for r in result.refused})
            if result.generation is None:
                continue
            counts["sent"] += result.generation.sent
            counts["from_store"] += result.generation.reused
            for row in result.generation.rows.iter_rows():
                answers[_custom_id(row)].append(row)
            for name, n in synth.report(self._target(model, store, run_dir)).items():  # e.g. files left on the provider
                if n:
                    counts[name] = counts.get(name, 0) + n
        return answers, refused, counts


def _custom_id(row: dict) -> str:
    return row.get("source_id", row["id"])


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def write_jsonl(path: str, rows: list) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write((row if isinstance(row, str) else json.dumps(row, default=str)) + "\n")
