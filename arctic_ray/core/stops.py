"""A run that stops because a part of it died (the teacher, an engine, a training worker, a node)
says so in one line: what died, the step and URI of the last checkpoint, and the command that
continues the run; `metrics.json` of the stopped run holds the same (`JobRun.stage` writes both).

What died is read from the error Ray raises, by the names of its exception types and actor
classes, so this layer needs none of Ray Train's or vLLM's modules. An error that is not a death
(a bug, bad input) is not a stop and is raised as it is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from arctic_ray.core.errors import ArcticRayError

WHAT_DIED = {
    # (what died, words in an error's type name or message that say so), the first match wins
    "node": (
        "PreemptionError",
        "NodeDiedError",
        "node died",
        "node has died",
        "node was terminated",
        "NODE_DIED",
        "marked dead",
    ),
    "teacher": ("TeacherActor",),
    "engine": ("EnginesKeepDying", "VLLMEngineStage", "EngineDeadError", "engine core"),
    "training worker": ("RayTrainWorker", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError"),
}


INNER_ERRORS = ("controller_failure", "cause", "health_check_failure")
"""Attributes where Ray's errors keep the error under them (Ray Train's controller, worker
health checks)."""


@dataclass(frozen=True)
class Checkpoint:
    step: int
    uri: str


class RunStopped(ArcticRayError):
    """A stage stopped because `what` died; `checkpoint` is the last one written, if any."""

    def __init__(
        self,
        what: str,
        cause: str,
        checkpoint: Checkpoint | None = None,
        line: str | None = None,
        run_dir: str | None = None,
        stage: str | None = None,
    ):
        super().__init__(line or f"the {what} died ({cause})")
        self.what, self.cause, self.checkpoint = what, cause, checkpoint
        self.run_dir, self.stage = run_dir, stage

    def described(self, job: str, stage: str, run_dir: str) -> RunStopped:
        """The same stop with its one line: what died, the last checkpoint, the command to go on."""
        script = Path("pipelines") / f"{job}.py"
        command = f"python {script} --resume {run_dir}" if script.exists() else f"arctic-ray run --resume {run_dir}"
        where = (
            f"last checkpoint: step {self.checkpoint.step} at {self.checkpoint.uri}"
            if self.checkpoint
            else "no checkpoint yet (stored generations are kept)"
        )
        line = f"stopped in stage {stage}: the {self.what} died ({self.cause}); {where}; continue with: {command}"
        return RunStopped(self.what, self.cause, self.checkpoint, line, run_dir, stage)

    def record(self) -> dict:
        """What `metrics.json` of the stopped run says."""
        return {
            "what": self.what,
            "stage": self.stage,
            "cause": self.cause,
            "checkpoint_step": self.checkpoint.step if self.checkpoint else None,
            "checkpoint": self.checkpoint.uri if self.checkpoint else None,
            "message": str(self),
        }


def _chain(err: BaseException) -> Iterator[BaseException]:
    """The error and every error inside it: causes, contexts, Ray Train's per-worker failures."""
    todo, seen = [err], set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        inner = [e.__cause__, e.__context__, *(getattr(e, a, None) for a in INNER_ERRORS)]
        inner += list((getattr(e, "worker_failures", None) or {}).values())
        todo += [i for i in inner if isinstance(i, BaseException)]


def _cause(errors: list[BaseException]) -> str:
    for e in errors:
        if "OutOfMemory" in type(e).__name__ or "killed due to memory" in str(e):
            return "killed for memory"
    last = errors[-1]
    first_line = next((line.strip() for line in str(last).splitlines() if line.strip()), "")
    return f"{type(last).__name__}: {first_line[:200]}" if first_line else type(last).__name__


def stopped_by(err: BaseException, checkpoint: Checkpoint | None = None) -> RunStopped | None:
    """The stop `err` says happened, or None when nothing died."""
    errors = list(_chain(err))
    if any(isinstance(e, RunStopped) for e in errors):
        return next(e for e in errors if isinstance(e, RunStopped))
    said = [f"{type(e).__name__} {e}" for e in errors]
    for what, words in WHAT_DIED.items():
        if any(w in s for w in words for s in said):
            return RunStopped(what, _cause(errors), checkpoint)
    return None
