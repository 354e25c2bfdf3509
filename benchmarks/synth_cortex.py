"""Cortex synthesis, end to end through the generation store, against the local fake Snowflake
(fakesnow's server, the real connector, Cortex as a DuckDB UDF): rows answered per second and SQL
statements sent. Cortex's own latency is not modelled, so this measures the set-based overhead
(staging, one statement per chunk, Ray Data, the store), not a real warehouse.

`python benchmarks/synth_cortex.py [rows]`"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray
import ray.data

from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.cortex.config import CortexSynthConfig
from arctic_ray.synth.keyed import generate_stored
from tests.fake_snowflake import PASSWORD_ENV, fake_snowflake

MODEL = "mistral-large2"


def prompts(n: int) -> list[dict]:
    return [
        {"id": f"b{i}", "messages": [{"role": "user", "content": f"benchmark question {i} about glaciers"}]}
        for i in range(n)
    ]


def run(rows: int = 2000, chunk_rows: int = 100, max_chunks_in_flight: int = 4) -> str:
    started_ray = not ray.is_initialized()
    if started_ray:
        os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    try:
        with fake_snowflake() as fake, tempfile.TemporaryDirectory() as tmp:
            secrets = Path(tmp) / "secrets.env"
            secrets.write_text(f"{PASSWORD_ENV}=benchmark\n")  # the fake accepts any password
            synth = CortexSynthConfig(
                connection=fake.connection(secrets_file=secrets),
                chunk_rows=chunk_rows,
                max_chunks_in_flight=max_chunks_in_flight,
                sampling={"max_tokens": 32},
            )
            target = Target(model=MODEL, model_name=MODEL, model_key=MODEL, store=str(Path(tmp) / "store"))
            ray.data.range(4).materialize()  # worker processes up before the clock starts
            before, start = len(fake.statements), time.perf_counter()
            out = generate_stored(ray.data.from_items(prompts(rows)), synth, target).rows.take_all()
            seconds = time.perf_counter() - start
            statements = len(fake.statements) - before
        failed = sum(bool(r["error"]) for r in out)
        if failed or len(out) != rows:
            raise RuntimeError(f"{failed} of {len(out)} rows failed")
        return f"synth: backend=cortex rows={rows} statements={statements} rows_s={rows / seconds:.1f}"
    finally:
        if started_ray:
            ray.shutdown()


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
