"""ArcticTraining's step-by-step Batch API methods (`upload_batch_task`, `retrieve_uploaded_files`,
`submit_batch_task`, `retrieve_batch_task`, `cancel_batch_task`, `download_batch_task`), for
people who drive a task by hand or from their CLI. They call the provider through the client's
own `files` and `batches` (the classes are `openai.OpenAI` / `openai.AzureOpenAI` subclasses, as
theirs are) and keep their files in the task directory: `requests/*.jsonl`, `file_ids.txt`,
`batch_ids.txt`, `downloads/<batch>.jsonl`, `results.jsonl`. Ids are not secrets; no key is
written anywhere.

Deliberate differences from theirs: `submit_batch_task` waits until each file is `processed`
(Azure refuses earlier creates), and `download_batch_task` keeps a request that failed in the
results, as its error line, so every request has its line. `execute_batch_task` does not use
these: it goes through the store-backed backend, which never pays twice."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openai.resources.batches import Batches
    from openai.resources.files import Files


class BatchSteps:
    """Mixed into an `openai.OpenAI` subclass that is an `OpenAIBatchClient` too: what it uses
    of them is declared here."""

    chat_api_url: str
    file_expiry_seconds: int
    polling_interval: float

    if TYPE_CHECKING:

        @property
        def files(self) -> Files: ...

        @property
        def batches(self) -> Batches: ...

        def _task_dir(self, task_name: str) -> str: ...

        def save_batch_task(self, task_name: str) -> None: ...

    def _task_file(self, task_name: str, name: str) -> str:
        return os.path.join(self._task_dir(task_name), name)

    def _ids(self, task_name: str | None, ids: list[str] | None, name: str, what: str) -> list[str]:
        if ids is not None:
            return list(ids)
        if task_name is None:
            raise ValueError(f"Either task_name or {what} must be provided.")
        path = self._task_file(task_name, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No {what} are passed or found on disk for task: {task_name}.")
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()

    def upload_batch_task(self, task_name: str) -> list[str]:
        folder = self._task_file(task_name, "requests")
        if not os.path.isdir(folder):
            self.save_batch_task(task_name)
        file_ids = []
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as fh:
                extra = {"expires_after": {"anchor": "created_at", "seconds": self.file_expiry_seconds}}
                file_ids.append(self.files.create(file=(name, fh.read()), purpose="batch", extra_body=extra).id)
        _write_lines(self._task_file(task_name, "file_ids.txt"), file_ids)
        return file_ids

    def retrieve_uploaded_files(
        self, task_name: str | None = None, file_ids: list[str] | None = None, print_status: bool = True
    ) -> list:
        files = [self.files.retrieve(fid) for fid in self._ids(task_name, file_ids, "file_ids.txt", "file ids")]
        if print_status:
            print(_table(["File ID", "Status"], [(f.id, f.status) for f in files]))
        return files

    def submit_batch_task(self, task_name: str, file_ids: list[str] | None = None) -> list[str]:
        file_ids = self._ids(task_name, file_ids, "file_ids.txt", "file ids")
        while True:
            files = self.retrieve_uploaded_files(file_ids=file_ids, print_status=False)
            failed = [f for f in files if f.status == "error"]
            if failed:
                raise ValueError(
                    f"File processing failed for {failed[0].id}: {getattr(failed[0], 'status_details', None)}"
                )
            if all(f.status == "processed" for f in files):
                break
            time.sleep(self.polling_interval)
        batch_ids = [
            self.batches.create(input_file_id=fid, endpoint=self.chat_api_url, completion_window="24h").id  # pyright: ignore[reportArgumentType]  # Azure's /chat/completions is not in its Literal
            for fid in file_ids
        ]
        _write_lines(self._task_file(task_name, "batch_ids.txt"), batch_ids)
        return batch_ids

    def retrieve_batch_task(
        self, task_name: str | None = None, batch_ids: list[str] | None = None, print_status: bool = True
    ) -> list:
        batches = [self.batches.retrieve(bid) for bid in self._ids(task_name, batch_ids, "batch_ids.txt", "batch ids")]
        if print_status:
            rows = [(b.id, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.created_at)), b.status) for b in batches]
            print(_table(["Batch ID", "Created at", "Status"], rows))
        return batches

    def cancel_batch_task(self, task_name: str) -> None:
        for batch_id in self._ids(task_name, None, "batch_ids.txt", "batch ids"):
            self.batches.cancel(batch_id)

    def download_batch_task(self, task_name: str) -> list[str]:
        """Every line of the task's finished batches, sorted by custom_id (theirs: output lines
        only); [] while any batch has not finished."""
        lines, ready = [], True
        for batch in self.retrieve_batch_task(task_name=task_name, print_status=False):
            if batch.status not in ("completed", "failed", "expired", "cancelled"):
                ready = False
                continue
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    text = self.files.content(file_id).text.strip()
                    _write_lines(self._task_file(task_name, os.path.join("downloads", f"{file_id}.jsonl")), [text])
                    lines += [line for line in text.splitlines() if line.strip()]
        if not ready:
            return []
        lines.sort(key=lambda line: json.loads(line)["custom_id"])
        _write_lines(self._task_file(task_name, "results.jsonl"), lines)
        return lines


def _write_lines(path: str, lines: list[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def _table(header: list[str], rows: list[tuple]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |" for r in cells]
    return "\n".join([line, body[0], line, *body[1:], line])
