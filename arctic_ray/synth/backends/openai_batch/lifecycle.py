"""A Batch API run's lifecycle over its manifest: adopt what an earlier process left, upload and
create shards within the spend limit, poll, and collect each finished batch into the generation
store the moment its output is downloaded. The order of writes is what keeps money safe:

  record shard (planned) -> upload -> record file id (uploaded) -> wait until the file is
  `processed` -> create -> record batch id (submitted) -> download -> store answers -> record
  collected -> delete files

A crash anywhere leaves a manifest a rerun can finish from: an `uploaded` shard's batch is looked
up by its metadata before anything is created, and a `submitted` one is polled, never recreated.
The manifest lives in the generation store (`manifest.py`), so a rerun of the same recipe finds
it whatever its run directory. A create waits for its input file to be `processed` (Azure refuses
earlier creates). Deleting files is housekeeping: a delete that fails is retried, then recorded
(`undeleted_files` in the manifest, a warning, `files_not_deleted` in the report) and tried again
by the next run; it never costs the answers."""

from __future__ import annotations

import logging
import time

import openai
from tqdm.auto import tqdm

from arctic_ray.synth.backend import PricingConfig
from arctic_ray.synth.backends.openai_batch.api import TRANSIENT, BatchAPI
from arctic_ray.synth.backends.openai_batch.manifest import BatchManifest, ShardRecord
from arctic_ray.synth.backends.openai_batch.output import JoinedBatch, join_output
from arctic_ray.synth.backends.openai_batch.shards import ShardContent
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore

log = logging.getLogger(__name__)

TERMINAL = ("completed", "failed", "expired", "cancelled")
FILE_POLL_S = 5.0
"""Most seconds between looks at an input file that is not processed yet (files take seconds)."""


def error_result(reason: str) -> dict:
    return {
        "completion": "",
        "finish_reason": "error",
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
        "error": reason,
    }


class BatchLifecycle:
    def __init__(
        self,
        api: BatchAPI,
        manifest: BatchManifest,
        store: GenerationStore,
        sent_log: SentLog,
        *,
        backend: str,
        model_name: str,
        pricing: PricingConfig,
        spend_limit: float | None,
        poll_interval_s: float,
        max_active_batches: int,
    ):
        self.api, self.manifest, self.store, self.sent_log = api, manifest, store, sent_log
        self.backend, self.model_name = backend, model_name
        self.pricing, self.spend_limit = pricing, spend_limit
        self.poll_interval_s, self.max_active_batches = poll_interval_s, max_active_batches
        self.results: dict[str, dict] = {}
        """key -> output columns, for every row whose shard finished (answered or failed)."""
        self.spend: dict[str, float] = {}
        """shard id -> USD for shards this process created or adopted: estimated until collected."""

    # -- an earlier process's shards ------------------------------------------------------------

    def reconcile(self, needed: set[str]) -> None:
        """Adopt the batches an earlier process created; keep its unsent shards only while every
        row in them is still `needed`; finish its clean-ups."""
        planned = [s for s in self.manifest.open_shards() if s.state == "planned"]
        if planned:  # an upload may have finished just before a crash, unrecorded
            for file_id in self.api.uploads_named({self.manifest.upload_name(s) for s in planned}):
                self.api.delete(file_id)
        for rec in self.manifest.open_shards():
            if rec.state == "uploaded":
                batch = self.api.find(self._metadata(rec), rec.input_file_id, rec.updated_at)
                if batch:
                    log.info("batch api: adopting %s for %s (created before a crash)", batch.id, rec.shard_id)
                    self.manifest.update(rec, state="submitted", batch_id=batch.id, batch_status=batch.status)
            if rec.state == "submitted":
                self.spend[rec.shard_id] = rec.est_cost_usd
            elif not set(self.manifest.keys(rec)) <= needed:
                self._drop(
                    rec, "rows changed since it was planned; the rows still needed were planned again", fail_rows=False
                )
        for rec in self.manifest.shards.values():
            if rec.state in ("collected", "dropped") and not rec.files_deleted:
                self._clean(rec)

    def covered(self) -> set[str]:
        """Keys in shards still on their way (planned, uploaded or submitted)."""
        return {k for rec in self.manifest.open_shards() for k in self.manifest.keys(rec)}

    def add_shard(self, content: ShardContent, round: int) -> ShardRecord:
        cost = self.pricing.cost(content.prompt_tokens, content.completion_tokens)
        return self.manifest.add_shard(content, cost, round)

    # -- driving shards to the end ----------------------------------------------------------------

    def run(self) -> set[str]:
        """Send every open shard and wait for all of them; returns the keys no batch ran
        (expired or cancelled first): the caller sends them again."""
        open_shards = self.manifest.open_shards()
        pending = [s for s in open_shards if s.state != "submitted"]
        active = {s.shard_id: s for s in open_shards if s.state == "submitted"}
        done: dict[str, int] = {}
        not_run: set[str] = set()
        with tqdm(total=sum(s.requests for s in open_shards), unit="req", desc=f"{self.backend} batches") as bar:
            while pending or active:
                self._submit_within_budget(pending, active, done)
                for rec in list(active.values()):
                    assert rec.batch_id is not None  # set with state "submitted"
                    batch = self.api.retrieve(rec.batch_id)
                    counts = batch.request_counts
                    done[rec.shard_id] = (counts.completed + counts.failed) if counts else 0
                    if batch.status in TERMINAL:
                        not_run |= self._collect(rec, batch)
                        done[rec.shard_id] = rec.requests
                        del active[rec.shard_id]
                bar.update(sum(done.values()) - bar.n)
                if active:
                    time.sleep(self.poll_interval_s)
        return not_run

    def _submit_within_budget(self, pending: list[ShardRecord], active: dict, done: dict) -> None:
        while pending and len(active) < self.max_active_batches:
            rec = pending[0]
            spent = sum(self.spend.values())
            if self.spend_limit is not None and spent + rec.est_cost_usd > self.spend_limit:
                if active:
                    return  # answers often cost less than estimated: wait for them
                reason = f"spend_limit reached: ${spent:.4f} of ${self.spend_limit} spent or committed"
                for shard in pending:
                    self._drop(
                        shard,
                        f"{reason}; this shard of {shard.requests} requests would add up to ~${shard.est_cost_usd:.4f}",
                    )
                    done[shard.shard_id] = shard.requests
                pending.clear()
                return
            pending.pop(0)
            if self._submit(rec):
                active[rec.shard_id] = rec
            else:
                done[rec.shard_id] = rec.requests

    def _submit(self, rec: ShardRecord) -> bool:
        if rec.state == "planned":
            file_id = self.api.upload(self.manifest.upload_name(rec), self.manifest.input_lines(rec))
            self.manifest.update(rec, state="uploaded", input_file_id=file_id)
        problem = self._wait_processed(rec)
        if problem:
            self._drop(rec, problem)
            return False
        self.spend[rec.shard_id] = rec.est_cost_usd  # from here the batch may exist, even if create fails
        self.sent_log.record(self.manifest.keys(rec))
        batch = self._create(rec)
        if batch is None:
            return False
        self.manifest.update(rec, state="submitted", batch_id=batch.id, batch_status=batch.status)
        return True

    def _wait_processed(self, rec: ShardRecord) -> str:
        """Wait until the provider has processed the shard's input file; why not, if it failed."""
        assert rec.input_file_id is not None  # set with state "uploaded", before this wait
        while True:
            status, details = self.api.file_status(rec.input_file_id)
            if status == "processed":
                return ""
            if status in ("error", "deleted", "deleting"):
                return f"input file {rec.input_file_id} was not processed ({status}: {details or 'no detail'})"
            log.info(
                "batch api: %s input file %s is %s; waiting before the create", rec.shard_id, rec.input_file_id, status
            )
            time.sleep(min(self.poll_interval_s, FILE_POLL_S))

    def _create(self, rec: ShardRecord):
        """The batch for `rec`: created once; after a failed call, found before trying again."""
        metadata = self._metadata(rec)
        assert rec.input_file_id is not None  # uploaded and processed (_wait_processed)
        for attempt in range(self.api.attempts):
            try:
                return self.api.create(rec.input_file_id, metadata)
            except TRANSIENT as exc:
                found = self.api.find(metadata, rec.input_file_id, rec.updated_at)
                if found:
                    return found
                if attempt == self.api.attempts - 1:
                    raise
                log.warning("batch api: create failed (%s), no batch made; retrying", type(exc).__name__)
                self.api.pause(attempt)
            except openai.BadRequestError as exc:  # refused: nothing was made
                del self.spend[rec.shard_id]
                self.sent_log.settle(self.manifest.keys(rec))
                self._drop(rec, f"batch create refused: {exc.message}")
                return None
        raise AssertionError("unreachable")

    def _metadata(self, rec: ShardRecord) -> dict[str, str]:
        return {"arctic_ray_manifest": self.manifest.manifest_id, "arctic_ray_shard": rec.shard_id}

    # -- finishing shards -------------------------------------------------------------------------

    def _collect(self, rec: ShardRecord, batch) -> set[str]:
        keys = self.manifest.keys(rec)
        if batch.status == "failed":
            errors = (
                "; ".join(f"{e.code}: {e.message}" for e in (batch.errors.data or [])) if batch.errors else "no detail"
            )
            joined = JoinedBatch(errors={k: f"batch failed: {errors}" for k in keys})
        else:
            files = [self.api.content(fid) for fid in (batch.output_file_id, batch.error_file_id) if fid]
            joined = join_output(keys, files, batch_ok=batch.status == "completed")
        for problem in joined.problems:
            log.error("batch api: %s %s: %s", rec.shard_id, batch.id, problem)
        answers = [
            {"key": k, **a, "backend": self.backend, "model": self.model_name} for k, a in joined.answers.items()
        ]
        self.store.put_many(answers)  # before the manifest says collected: a crash here re-collects
        self.results.update({k: {**a, "error": ""} for k, a in joined.answers.items()})
        self.results.update({k: error_result(e) for k, e in joined.errors.items()})
        self.sent_log.settle([*joined.errors, *joined.not_run])  # ended without an answer: not in flight
        prompt = sum(a["usage"]["prompt_tokens"] for a in joined.answers.values())
        completion = sum(a["usage"]["completion_tokens"] for a in joined.answers.values())
        cost = self.pricing.cost(prompt, completion)
        self.spend[rec.shard_id] = cost
        self.manifest.update(
            rec, state="collected", batch_status=batch.status, output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id, answered=len(joined.answers), failed=len(joined.errors),
            unanswered=len(joined.not_run), cost_usd=cost, problems=rec.problems + joined.problems,
        )  # fmt: skip
        self._clean(rec)
        return joined.not_run

    def _drop(self, rec: ShardRecord, reason: str, fail_rows: bool = True) -> None:
        """A shard that will never be sent; its rows fail with `reason` unless they go in another."""
        if fail_rows:
            self.results.update({k: error_result(reason) for k in self.manifest.keys(rec)})
        self.manifest.update(rec, state="dropped", problems=[*rec.problems, reason])
        self._clean(rec)

    def _clean(self, rec: ShardRecord) -> None:
        left = []
        for file_id in (rec.input_file_id, rec.output_file_id, rec.error_file_id):
            if file_id and (why := self.api.delete(file_id)):
                left.append(file_id)
                log.warning(
                    "batch api: could not delete file %s of %s (%s); "
                    "it is recorded in the manifest and tried again on the next run",
                    file_id,
                    rec.shard_id,
                    why,
                )
        self.manifest.remove_local_files(rec)
        self.manifest.update(rec, files_deleted=not left, undeleted_files=left)
