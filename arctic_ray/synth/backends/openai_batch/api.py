"""The provider's Files and Batch endpoints as the lifecycle uses them. The client's own retries
are off (OpenAIConnection): calls that are safe to repeat are retried here with backoff; a
create is never repeated blindly, since one that timed out may have made a batch all the same."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import openai

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
"""Connection failures and timeouts, 429, 5xx: worth another try."""

# A batch created this long before its shard was recorded cannot be that shard's (clock skew margin).
FIND_SLACK_S = 600


class BatchAPI:
    def __init__(self, client, endpoint: str, attempts: int = 6, backoff_s: float = 1.0):
        self.client, self.endpoint = client, endpoint
        self.attempts, self.backoff_s = attempts, backoff_s

    def retrying(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return call()
            except TRANSIENT as exc:
                if attempt == self.attempts - 1:
                    raise
                log.warning("batch api: %s failed (%s); retrying", what, type(exc).__name__)
                self.pause(attempt)
        raise AssertionError("unreachable")

    def pause(self, attempt: int) -> None:
        time.sleep(min(self.backoff_s * 2**attempt, 60.0))

    def upload(self, name: str, data: bytes) -> str:
        return self.retrying("upload", lambda: self.client.files.create(file=(name, data), purpose="batch")).id

    def create(self, input_file_id: str, metadata: dict[str, str]):
        """One attempt: on failure the caller looks for the batch before trying again."""
        return self.client.batches.create(
            input_file_id=input_file_id, endpoint=self.endpoint, completion_window="24h", metadata=metadata
        )

    def retrieve(self, batch_id: str):
        return self.retrying("retrieve", lambda: self.client.batches.retrieve(batch_id))

    def find(self, metadata: dict[str, str], input_file_id: str | None, since: float):
        """The batch carrying `metadata` (or made from `input_file_id`), looking back to `since`."""

        def scan():
            for batch in self.client.batches.list(limit=100):  # newest first, paged by the client
                if batch.created_at < since - FIND_SLACK_S:
                    return None
                mine = batch.metadata and all(batch.metadata.get(k) == v for k, v in metadata.items())
                if mine or (input_file_id and batch.input_file_id == input_file_id):
                    return batch
            return None

        return self.retrying("list batches", scan)

    def content(self, file_id: str) -> bytes:
        return self.retrying("download", lambda: self.client.files.content(file_id).content)

    def file_status(self, file_id: str) -> tuple[str, str]:
        """(status, status_details) of an uploaded file: `uploaded`, `processed`, `error`, ..."""
        f = self.retrying("retrieve file", lambda: self.client.files.retrieve(file_id))
        return str(f.status or "processed"), str(getattr(f, "status_details", None) or "")

    def delete(self, file_id: str) -> str:
        """Delete a file: "" when it is gone (already gone counts), else why it could not be
        (a 405 from a server without the route, an error that outlasted the retries). Deleting
        is housekeeping: a failure never costs the answers already downloaded."""
        try:
            self.retrying("delete file", lambda: self.client.files.delete(file_id))
        except openai.NotFoundError:
            return ""
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            return f"HTTP {status}" if status else type(exc).__name__
        return ""

    def uploads_named(self, names: set[str]) -> list[str]:
        """Ids of batch input files with one of `names` (uploads a crash left unrecorded)."""
        return self.retrying(
            "list files", lambda: [f.id for f in self.client.files.list(purpose="batch") if f.filename in names]
        )
