"""Generation through the OpenAI Batch API (`openai_batch`) or Azure OpenAI's (`azure_openai_batch`):
half the price for answers within 24 h, for runs of up to millions of prompts.

The Batch API is not per-row work, so this stage is a driver-side lifecycle rather than a
map over rows: the keyed rows are cut into JSONL shards within the API's limits, each shard is
uploaded and created as one batch (metadata naming the manifest and shard), polled, and its
answers stored the moment they are downloaded. The manifest (in the store, whatever the run
directory) makes a rerun adopt, not repeat, whatever a crashed run had created; rows an expired
or cancelled batch never ran go again in a new shard. The output is the input Dataset with the
schema's columns added to every row."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pyarrow as pa
import ray
import ray.data
from pydantic import Field, field_validator, model_validator

from arctic_ray.synth.backend import SynthConfig, Target, extra_body
from arctic_ray.synth.backends.openai_batch.api import BatchAPI
from arctic_ray.synth.backends.openai_batch.lifecycle import BatchLifecycle, error_result
from arctic_ray.synth.backends.openai_batch.manifest import BatchManifest, lock
from arctic_ray.synth.backends.openai_batch.shards import ShardCutter, ShardLimits, batch_request, too_large
from arctic_ray.synth.openai_connection import OpenAIConnection
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore


class OpenAIBatchSynthConfig(SynthConfig):
    """`pricing` is what the Batch API charges (its discounted prices), used for the spend estimate."""

    backend: Literal["openai_batch"] = "openai_batch"
    """Generation backend (registered name)."""

    persists_answers: ClassVar[bool] = True
    connection_kind: ClassVar[str] = "openai"
    url: ClassVar[str] = "/v1/chat/completions"
    """The endpoint every request line (and the batch) names."""

    connection: OpenAIConnection = OpenAIConnection()
    limits: ShardLimits = ShardLimits()
    max_active_batches: int = Field(default=8, gt=0)
    """Batches in flight at once; more shards wait for one to finish (and for the spend limit)."""

    poll_interval_s: float = Field(default=30.0, gt=0)
    max_resends: int = Field(default=2, ge=0)
    """Times the rows an expired or cancelled batch never ran are sent again, each in a new shard."""

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """The request field for the token budget (reasoning models take only `max_completion_tokens`)."""

    @model_validator(mode="after")
    def _connection_kind(self):
        if self.connection.kind != self.connection_kind:
            raise ValueError(f"backend {self.backend} needs connection.kind: {self.connection_kind}")
        return self

    def request_body(self, row: dict, model: str) -> dict[str, Any]:
        sampling = row["sampling"]
        # Arrow fills keys a message lacks with None; the API rejects those.
        messages = [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]
        body = {
            "model": model,
            "messages": messages,
            "temperature": sampling["temperature"],
            "top_p": sampling["top_p"],
        }
        body[self.max_tokens_field] = sampling["max_tokens"]
        if sampling.get("seed") is not None:
            body["seed"] = sampling["seed"]
        body.update(extra_body(sampling))
        return body

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        with lock(target.store, self.backend, target.model_key):
            return self._generate(ds, target)

    def report(self, target: Target) -> dict:
        """What the run left on the provider: files whose delete failed (tried again next run)."""
        manifest = BatchManifest(target.store, self.backend, target.model_key)
        return {"files_not_deleted": sum(len(s.undeleted_files) for s in manifest.shards.values())}

    def _generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        store = GenerationStore(target.store)
        lifecycle = BatchLifecycle(
            BatchAPI(self.connection.client(sync=True), self.url),
            BatchManifest(target.store, self.backend, target.model_key),
            store,
            SentLog(target.store),
            backend=self.backend, model_name=target.model_name, pricing=self.pricing,
            spend_limit=self.spend_limit, poll_interval_s=self.poll_interval_s,
            max_active_batches=self.max_active_batches,
        )  # fmt: skip
        needed = {r["key"] for r in ds.select_columns(["key"]).iter_rows()}
        # A run that waited for the lock finds what the run before it stored.
        for key, answer in store.get_many(needed).items():
            lifecycle.results[key] = {c: answer.get(c) for c in ("completion", "finish_reason", "usage")} | {
                "error": ""
            }
        needed -= set(lifecycle.results)
        lifecycle.reconcile(needed)
        todo = needed - lifecycle.covered()
        for round in range(self.max_resends + 1):
            self._plan(ds, todo, lifecycle, target, round)
            todo = lifecycle.run() & needed
            if not todo:
                break
        never = error_result(f"not run: its batch expired or was cancelled {self.max_resends + 1} times")
        lifecycle.results.update({k: never for k in todo})
        return _with_results(ds, lifecycle.results, self.backend, target.model_name)

    def _plan(
        self, ds: ray.data.Dataset, todo: set[str], lifecycle: BatchLifecycle, target: Target, round: int
    ) -> None:
        """Cut the `todo` rows into shards (written to the manifest's directory, recorded as planned)."""
        if not todo:
            return
        cutter, planned = ShardCutter(self.limits), set()
        for row in ds.iter_rows():
            if row["key"] not in todo or row["key"] in planned:  # greedy samples of one prompt share a key
                continue
            planned.add(row["key"])
            req = batch_request(
                row["key"],
                self.url,
                self.request_body(row, target.model),
                row["messages"],
                row["sampling"]["max_tokens"],
            )
            if problem := too_large(req, self.limits):
                lifecycle.results[req.key] = error_result(problem)
            elif full := cutter.add(req):
                lifecycle.add_shard(full, round)
        if last := cutter.close():
            lifecycle.add_shard(last, round)


class AzureOpenAIBatchSynthConfig(OpenAIBatchSynthConfig):
    backend: Literal["azure_openai_batch"] = "azure_openai_batch"
    """Generation backend (registered name); `Target.model` is the Azure deployment name."""

    connection_kind: ClassVar[str] = "azure"
    url: ClassVar[str] = "/chat/completions"

    connection: OpenAIConnection = OpenAIConnection(kind="azure", api_key_env="AZURE_OPENAI_API_KEY")

    @field_validator("connection", mode="before")
    @classmethod
    def _azure_by_default(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {"kind": "azure", "api_key_env": "AZURE_OPENAI_API_KEY", **value}
        return value


def _with_results(ds: ray.data.Dataset, results: dict[str, dict], backend: str, model: str) -> ray.data.Dataset:
    results_ref = ray.put(results)

    def attach(batch: pa.Table, results_ref=results_ref) -> pa.Table:
        found = ray.get(results_ref)  # once per batch
        rows = [{**r, **found[r["key"]], "backend": backend, "model": model} for r in batch.to_pylist()]
        return pa.Table.from_pylist(rows)

    return ds.map_batches(attach, batch_format="pyarrow")
