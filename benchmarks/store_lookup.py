"""The generation store's lookup at two store sizes: the driver's memory must not grow with the
store. Stores of N and 4N synthetic answers (segments of 1,000, as backends write them) are asked
for the same 4,000 requests, half of them stored; the lookup (a Ray Data join on the key,
`synth/store_lookup.py`) is timed and the driver's RSS high-water mark above its start taken.
Baseline, in the same run: the driver-side index the store had before (`GenerationStore.get_many`
over every key), whose memory grows with the store.

    python benchmarks/store_lookup.py            # N = 50,000
    python benchmarks/store_lookup.py 10000

prints `store-lookup: answers=A driver_mb=D index_driver_mb=I seconds=S` per size, then
`store-lookup: growth 4x store: join=X index=Y` (driver MB at 4N over at N)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dedup import PeakRSS

REQUESTS = 4000
SEGMENT = 1000
TEXT = "an answer of a realistic length, a few sentences long. " * 8


def fill(store: str, n: int) -> None:
    from arctic_ray.synth.store import GenerationStore

    s = GenerationStore(store)
    for start in range(0, n, SEGMENT):
        s.put_many(
            [
                {
                    "key": f"k{i:09d}",
                    "completion": TEXT,
                    "finish_reason": "stop",
                    "usage": {"prompt_tokens": 9, "completion_tokens": 90},
                }
                for i in range(start, min(n, start + SEGMENT))
            ]
        )


def requests(n_stored: int):
    from arctic_ray.data.driver_rows import dataset_of

    half = REQUESTS // 2
    keys = stored_sample(n_stored) + [f"new{i}" for i in range(half)]
    return dataset_of([{"id": k, "key": k, "messages": [{"role": "user", "content": "q"}]} for k in keys]).materialize()


def stored_sample(n_stored: int) -> list[str]:
    """Up to REQUESTS / 2 stored keys, spread over the store."""
    half = min(REQUESTS // 2, n_stored)
    return [f"k{i:09d}" for i in range(0, n_stored, n_stored // half)][:half]


def measure(n: int) -> dict:
    from arctic_ray.synth.store import GenerationStore
    from arctic_ray.synth.store_lookup import lookup

    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "store")
        fill(store, n)
        keyed = requests(n)
        with PeakRSS() as rss:
            start = time.perf_counter()
            found = lookup(keyed, store)
            found.hits.materialize()
            seconds = time.perf_counter() - start
        keys = stored_sample(n)
        assert found.reused == len(keys) and found.sent == REQUESTS // 2, (found.reused, found.sent)
        with PeakRSS() as index:
            GenerationStore(store).get_many(keys)
        return {
            "answers": n,
            "driver_mb": (rss.peak - rss.start) / 2**20,
            "index_driver_mb": (index.peak - index.start) / 2**20,
            "seconds": seconds,
        }


def main(argv: list[str]) -> None:
    import ray

    from arctic_ray.core.runtime import RayConfig, init_ray

    n = int(argv[0]) if argv else 50_000
    init_ray(RayConfig())
    try:
        measure(1000)  # warm: worker processes, Ray Data's first plan
        small, large = measure(n), measure(4 * n)
    finally:
        ray.shutdown()
    for r in (small, large):
        print(
            f"store-lookup: answers={r['answers']} driver_mb={r['driver_mb']:.1f} "
            f"index_driver_mb={r['index_driver_mb']:.1f} seconds={r['seconds']:.1f}"
        )

    def grow(k: str) -> float:
        return large[k] / max(small[k], 0.1)

    print(f"store-lookup: growth 4x store: join={grow('driver_mb'):.2f} index={grow('index_driver_mb'):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
