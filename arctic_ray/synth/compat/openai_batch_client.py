"""What `OpenAISynth` and `AzureOpenAISynth` share (their `OpenAIBatchProcessor`): a request is a
Batch API line (`custom_id`, `method`, `url`, `body` of chat-completion keywords), a task runs
through the `openai_batch` / `azure_openai_batch` backend, and the responses are Batch API output
lines: JSON strings sorted by custom_id, as their `download_batch_task` returns them.

`n` samples of a request go out as n requests (each its own store key) and come back as one
line with n choices. Every other chat-completion keyword (`stop`, `response_format`, `tools`,
`logprobs`, ...) goes into the request body verbatim, as theirs does (`backend.extra_body`).

`execute_batch_task` returns one line per request, sorted by custom_id as theirs: a request
that failed keeps its place as a Batch API error line (`response.status_code` not 200, `error`
with the reason), so the list lines up with the requests; `extract_messages_from_responses`
gives it `choices: []` and the `error`."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from arctic_ray.synth.backend import EXTRA_BODY, SamplingConfig
from arctic_ray.synth.backends.openai_batch.config import OpenAIBatchSynthConfig
from arctic_ray.synth.compat.base import BatchTaskClient, write_jsonl
from arctic_ray.synth.compat.batch_steps import _table

SAMPLING_KEYS = ("temperature", "top_p", "seed")
BODY_KEYS = ("model", "messages", "max_tokens", "max_completion_tokens", "n", *SAMPLING_KEYS)
"""What a request row carries in its own fields; any other keyword goes in its `extra_body`."""
API_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "seed": None}
DEFAULT_MAX_TOKENS = 4096
"""The API's own default is the model's whole output budget; a request row needs a number."""


class OpenAIBatchClient(BatchTaskClient[OpenAIBatchSynthConfig]):
    chat_api_url: str
    config_class: type[OpenAIBatchSynthConfig]
    client_keywords: tuple[str, ...]
    """The SDK client's keywords this class maps onto an arctic_ray connection."""

    def __init__(self, connection: dict, work_dir: str, batch_size: int, polling_interval: float):
        sampling = SamplingConfig(**API_DEFAULTS, max_tokens=DEFAULT_MAX_TOKENS)
        synth = self.config_class.model_validate(
            {
                "connection": connection,
                "limits": {"max_requests": batch_size},
                "poll_interval_s": polling_interval,
                "sampling": sampling,
            }
        )
        os.makedirs(work_dir, exist_ok=True)
        super().__init__(synth, work_dir)
        self.batch_size = batch_size
        self.polling_interval = polling_interval

    @classmethod
    def _check_client_keywords(cls, kwargs: dict[str, Any]) -> None:
        unknown = sorted(set(kwargs) - set(cls.client_keywords))
        if unknown:
            raise TypeError(
                f"{cls.__name__}: {', '.join(unknown)} not supported "
                f"(arctic_ray's connection takes {', '.join(cls.client_keywords)})"
            )

    def add_chat_to_batch_task(self, task_name: str, **kwargs: Any) -> None:
        try:
            json.dumps(kwargs)
        except TypeError as exc:
            raise TypeError(
                f"add_chat_to_batch_task: every keyword must be JSON, as a Batch API line is ({exc})"
            ) from None
        missing = [k for k in ("model", "messages") if k not in kwargs]
        if missing:
            raise TypeError(f"add_chat_to_batch_task needs {' and '.join(missing)}")
        request = {
            "custom_id": self._new_custom_id(task_name),
            "method": "POST",
            "url": self.chat_api_url,
            "body": kwargs,
        }
        self.requests[task_name].append(request)

    def save_batch_task(self, task_name: str) -> None:
        """Their layout: `<work_dir>/<task>/requests/<task>_<i>.jsonl`, `batch_size` lines each."""
        requests = self.requests[task_name]
        for i in range(0, len(requests), self.batch_size):
            path = os.path.join(self._task_dir(task_name), "requests", f"{task_name}_{i // self.batch_size}.jsonl")
            write_jsonl(path, requests[i : i + self.batch_size])

    def _chat(self, request: dict) -> tuple[str, dict, int]:
        body = request["body"]
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        sampling = {**API_DEFAULTS, **{k: body[k] for k in SAMPLING_KEYS if k in body}, "max_tokens": max_tokens}
        extra = {k: v for k, v in body.items() if k not in BODY_KEYS}
        if extra:
            sampling[EXTRA_BODY] = json.dumps(extra, sort_keys=True)
        return (
            body["model"],
            {"id": request["custom_id"], "messages": body["messages"], "sampling": sampling},
            body.get("n") or 1,
        )

    def _synth_for(self, requests: list[dict]) -> OpenAIBatchSynthConfig:
        # Reasoning models take only `max_completion_tokens`: send the field the chats were given.
        fields = {f for r in requests for f in ("max_tokens", "max_completion_tokens") if r["body"].get(f) is not None}
        if len(fields) > 1:
            raise ValueError("a task's chats mix max_tokens and max_completion_tokens: use one of them")
        return self.synth.model_copy(update={"max_tokens_field": fields.pop() if fields else "max_tokens"})

    def _response(self, request: dict, answers: list[dict]) -> str:
        first = answers[0]
        prompt_tokens = int(first["usage"]["prompt_tokens"])
        completion_tokens = sum(int(a["usage"]["completion_tokens"]) for a in answers)
        body = {
            "id": f"chatcmpl-{first['key'][:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": first["model"],
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": a["completion"]},
                    "logprobs": None,
                    "finish_reason": a["finish_reason"],
                }
                for i, a in enumerate(answers)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        response = {"status_code": 200, "request_id": first["key"][:32], "body": body}
        return json.dumps(
            {
                "id": f"batch_req_{first['key'][:24]}",
                "custom_id": request["custom_id"],
                "response": response,
                "error": None,
            }
        )

    def _ordered(self, responses: list) -> list:
        return sorted(responses, key=lambda line: json.loads(line)["custom_id"])

    def _failed(self, request: dict, reason: str) -> str:
        """A Batch API error-file line: their shape for a request the batch did not answer."""
        error = {"code": "arctic_ray_error", "message": reason}
        response = {"status_code": 500, "request_id": "", "body": {"error": error}}
        return json.dumps(
            {
                "id": f"batch_req_{request['custom_id']}",
                "custom_id": request["custom_id"],
                "response": response,
                "error": error,
            }
        )

    def execute_batch_task(self, task_name: str, print_status: bool = False) -> list:
        """Theirs: save, upload, wait for processing, submit, poll, download; here through the
        store-backed backend (nothing paid twice). `print_status`: print the task's batches'
        table at the end (theirs printed it at every poll)."""
        responses = super().execute_batch_task(task_name)
        if print_status:
            print(self._status_table(task_name))
        return responses

    def _status_table(self, task_name: str) -> str:
        rows = [(e["custom_id"], e["error"][:60]) for e in self.errors.get(task_name, [])]
        counts = self.counts.get(task_name, {})
        head = ", ".join(f"{k}: {v}" for k, v in counts.items())
        return f"task {task_name}: {head}" + ("\n" + _table(["Failed request", "Reason"], rows) if rows else "")

    @staticmethod
    def extract_messages_from_responses(responses: list) -> list[dict]:
        extracted = []
        for line in responses:
            response = json.loads(line) if isinstance(line, str) else line
            if response.get("error"):
                extracted.append(
                    {"custom_id": response["custom_id"], "choices": [], "error": response["error"]["message"]}
                )
                continue
            extracted.append(
                {
                    "custom_id": response["custom_id"],
                    "choices": [c["message"] for c in response["response"]["body"]["choices"]],
                }
            )
        return extracted
