"""The plumbing every job shares: a run directory, stages with timing and a header in the log,
rows set aside with their reasons, tables written, and the final metrics and report."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml


def new_run_dir(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = root / stamp, 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path.resolve()


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n")


class JobRun:
    def __init__(self, recipe, run_dir: Path | None = None):
        """A new timestamped directory under `recipe.output_dir`, or `run_dir` when resuming."""
        self.started = time.time()
        self.dir = Path(run_dir).resolve() if run_dir else new_run_dir(Path(recipe.output_dir))
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        self.rejects = self.dir / "rejects.jsonl"
        self.timings: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        print(f"[arctic_ray] run directory: {self.dir}", flush=True)

    @contextmanager
    def stage(self, name: str, title: str | None = None) -> Iterator[None]:
        print(f"\n[arctic_ray] === {title or name} ===", flush=True)
        start = time.time()
        yield
        self.timings[name] = round(time.time() - start, 1)
        print(f"[arctic_ray] {name}: {self.timings[name]} s", flush=True)

    def count(self, **counts: int) -> None:
        self.counts.update(counts)

    def set_aside(self, rows: Iterable[dict]) -> int:
        """Append rows that cannot be used, each with its `stage` and `reason`."""
        n = 0
        with self.rejects.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=str) + "\n")
                n += 1
        return n

    def write_rows(self, name: str, rows) -> int:
        """A Ray Dataset as a JSONL directory, or a list of rows as `name.jsonl`."""
        if isinstance(rows, list):
            with (self.dir / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, default=str) + "\n")
            return len(rows)
        n = rows.count()
        if n:
            rows.write_json(str(self.dir / name))
        return n

    def finish(self, metrics: dict, render_report) -> dict:
        """Write `metrics.json` and `report.md` (`render_report(metrics)`), print the report."""
        metrics = {
            **metrics,
            "counts": self.counts,
            "timings_s": self.timings,
            "wall_s": round(time.time() - self.started, 1),
            "run_dir": str(self.dir),
        }
        write_json(self.dir / "metrics.json", metrics)
        report = render_report(metrics)
        (self.dir / "report.md").write_text(report)
        print("\n" + report, flush=True)
        return metrics
