"""The plumbing every job shares: a run directory (a local path or a filesystem URI, see
`storage.py`), stages with timing and a header in the log, rows set aside with their reasons,
tables written, and the final metrics and report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from arctic_ray.core.stops import stopped_by
from arctic_ray.core.storage import Location, location

RECIPE_FILE = "recipe.yaml"


def new_run_dir(root: Location) -> Location:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    loc, n = root.join(stamp), 1
    while loc.exists():
        n += 1
        loc = root.join(f"{stamp}-{n}")
    loc.mkdir()
    return loc


def write_json(loc: Location, obj: Any) -> None:
    loc.write_text(json.dumps(obj, indent=2, default=str) + "\n")


class JobRun:
    def __init__(self, recipe, run_dir: str | None = None):
        """A new timestamped directory under `recipe.output_dir`, or `run_dir` when resuming."""
        self.started = time.time()
        self.type = recipe.type
        self.loc = location(run_dir) if run_dir else new_run_dir(location(recipe.output_dir))
        self.loc.mkdir()
        self.dir = self.loc.uri
        """The run directory as a user or another node is given it: a local path or a URI."""
        self.at(RECIPE_FILE).write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        self._rejects: list[str] = []
        self.timings: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.resumed_after = self._earlier_stops() if run_dir else []
        """The stops this run was resumed after (what died, where, its checkpoint), oldest first."""
        print(f"[arctic_ray] run directory: {self.dir}", flush=True)

    def _earlier_stops(self) -> list[dict]:
        metrics = self.at("metrics.json")
        if not metrics.exists():
            return []
        earlier = json.loads(metrics.read_text())
        return earlier.get("resumed_after", []) + ([earlier["stopped"]] if "stopped" in earlier else [])

    def at(self, *names: str) -> Location:
        return self.loc.join(*names)

    @contextmanager
    def stage(self, name: str, title: str | None = None) -> Iterator[None]:
        """A stage that stops because a part of the run died ends the run with one line saying
        what died and how to go on (`stops.py`), written to `metrics.json` as well."""
        print(f"\n[arctic_ray] === {title or name} ===", flush=True)
        start = time.time()
        try:
            yield
        except Exception as err:
            stop = stopped_by(err)
            if stop is None:
                raise
            stop = stop.described(self.type, name, self.dir)
            self.timings[name] = round(time.time() - start, 1)
            write_json(self.at("metrics.json"), self._metrics({"stopped": stop.record()}))
            raise stop from err
        self.timings[name] = round(time.time() - start, 1)
        print(f"[arctic_ray] {name}: {self.timings[name]} s", flush=True)

    def count(self, **counts: int) -> None:
        self.counts.update(counts)

    def set_aside(self, rows: Iterable[dict]) -> int:
        """Add rows that cannot be used, each with its `stage` and `reason`, to `rejects.jsonl`
        (rewritten whole: an object store has no append)."""
        new = [json.dumps(row, default=str) + "\n" for row in rows]
        if new or not self._rejects:
            self._rejects += new
            self.at("rejects.jsonl").write_text("".join(self._rejects))
        return len(new)

    def write_rows(self, name: str, rows) -> int:
        """A Ray Dataset as a JSONL directory, or a list of rows as `name.jsonl`."""
        if isinstance(rows, list):
            self.at(f"{name}.jsonl").write_text("".join(json.dumps(row, default=str) + "\n" for row in rows))
            return len(rows)
        n = rows.count()
        table = self.at(name).emptied()  # a rerun's rows replace the earlier run's
        if n:
            rows.write_json(table.path, filesystem=table.fs)
        return n

    def finish(self, metrics: dict, render_report) -> dict:
        """Write `metrics.json` and `report.md` (`render_report(metrics)`), print the report."""
        metrics = self._metrics(metrics)
        write_json(self.at("metrics.json"), metrics)
        report = render_report(metrics)
        self.at("report.md").write_text(report)
        print("\n" + report, flush=True)
        return metrics

    def _metrics(self, metrics: dict) -> dict:
        return {
            "type": self.type,
            **metrics,
            "counts": self.counts,
            "timings_s": self.timings,
            "wall_s": round(time.time() - self.started, 1),
            "run_dir": self.dir,
            **({"resumed_after": self.resumed_after} if self.resumed_after else {}),
        }
