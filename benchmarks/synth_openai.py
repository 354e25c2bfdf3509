"""How much of a request budget the `openai` backend uses: two actors against the local fake
OpenAI server (fixed latency), with a global requests-per-minute budget. The goal is at least 0.9
of the budget and never more.

The rate is measured at the server: its requests over the windows they occupied,
n / (last arrival - first arrival + window_s). A budget that holds can never score above 1 on it
(n requests take at least n - per_window pacing steps after the first window), and one that keeps
the provider busy scores n / (n + per_window): 0.95 for the default 600 rows.

`python benchmarks/synth_openai.py [rows]`"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray
import ray.data

from arctic_ray.synth.backend import SamplingConfig, Target
from arctic_ray.synth.backends.openai.config import OpenAISynthConfig
from arctic_ray.synth.keyed import generate_stored
from arctic_ray.synth.openai_connection import OpenAIConnection
from tests.fake_openai import FakeOpenAI

KEY_NAME = "FAKE_OPENAI_KEY"


def achieved_rpm(rows: int, rpm: float, window_s: float, latency_s: float) -> float:
    with FakeOpenAI(latency_s=latency_s) as server, tempfile.TemporaryDirectory() as tmp:
        secrets = Path(tmp) / "secrets.env"
        secrets.write_text(f"{KEY_NAME}=not-a-real-key\n")
        cfg = OpenAISynthConfig(
            connection=OpenAIConnection(
                base_url=server.base_url, api_key_env=KEY_NAME, secrets_file=secrets, timeout_s=10
            ),
            sampling=SamplingConfig(max_tokens=8),
            requests_per_minute=rpm,
            window_s=window_s,
            concurrency=2,
            max_concurrency=16,
            batch_size=50,
        )
        prompts = [
            {"id": str(i), "messages": [{"role": "user", "content": f"benchmark prompt {i}"}]} for i in range(rows)
        ]
        target = Target("bench", "bench", "bench", str(Path(tmp) / "store"))
        answered = generate_stored(ray.data.from_items(prompts), cfg, target).rows.take_all()
        failed = [r["error"] for r in answered if r["error"]]
        if failed:
            raise RuntimeError(f"{len(failed)} rows failed, e.g. {failed[0]}")
        arrivals = sorted(e.at for e in server.log)
    return len(arrivals) * 60 / (arrivals[-1] - arrivals[0] + window_s)


def run(rows: int = 600, rpm: float = 1800, window_s: float = 1.0, latency_s: float = 0.05) -> str:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    try:
        achieved = achieved_rpm(rows, rpm, window_s, latency_s)
    finally:
        if started:
            ray.shutdown()
    return (
        f"synth: backend=openai rows={rows} rpm_budget={rpm:g} achieved_rpm={achieved:.0f} ratio={achieved / rpm:.3f}"
    )


if __name__ == "__main__":
    print(run(*(int(a) for a in sys.argv[1:2])))
