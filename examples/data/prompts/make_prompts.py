"""Writes `broad.jsonl`, the built-in training prompt set (run from anywhere with the project's
venv, which has the MinHash dedup: `.venv/bin/python examples/data/prompts/make_prompts.py`):
about 1,500 prompts over twelve task types and several hundred topics, from the builders in
`prompt_tasks.py`. The generation is stdlib only and seeded, so the file is the same every time
(`tests/unit/test_prompt_sets.py` rebuilds it and compares).

The foreign eval set (`../foreign_eval.jsonl`) was written by hand and frozen before this
generator existed. Whatever is generated here is checked against it with the project's own
MinHash dedup (word 5-grams, Jaccard 0.7, the in-process path `dedup_against`: no Ray) and every
near-duplicate is dropped, so the eval measures prompts the drafter has never been trained on.
The same pass drops near-duplicates within the set (the earlier row stays); exact duplicates are
dropped, and replaced by fresh draws, while the set is generated.

Each line: {"id": "broad-00001", "task": "explain", "topic": "plate tectonics", "messages": [...]};
`task` and `topic` are for counts and tests, request readers ignore them."""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import prompt_tasks as tasks  # noqa: E402  (the banks beside this script)
from prompt_texts import PassagePicker  # noqa: E402

SEED = 20240611
FOREIGN = HERE.parent / "foreign_eval.jsonl"
OUT = HERE / "broad.jsonl"
THRESHOLD = 0.7
COUNTS = {
    "explain": 130,
    "compare": 120,
    "list": 130,
    "rewrite": 130,
    "summarise": 120,
    "code": 140,
    "math": 130,
    "plan": 120,
    "constrained": 130,
    "extract": 120,
    "creative": 130,
    "multiturn": 140,
}


def text_of(row: dict) -> str:
    """What dedup compares for a chat row: its messages' contents, one per line (as the dedup's
    `texts.py` does for a `messages` column)."""
    return "\n".join(m["content"] for m in row["messages"])


def generate(seed: int = SEED) -> tuple[list[dict], int]:
    """(rows, exact duplicates dropped): each task type is built up to its count, and a prompt
    identical to an earlier one is dropped and replaced by a fresh draw."""
    rng = random.Random(seed)
    picker = PassagePicker(rng)
    topics = tasks.Deck(tasks.ALL_TOPICS, rng)
    build = {
        "explain": lambda n: tasks.explain(rng, n, topics),
        "compare": lambda n: tasks.compare(rng, n),
        "list": lambda n: tasks.lists(rng, n, topics),
        "rewrite": lambda n: tasks.rewrite(rng, n, picker),
        "summarise": lambda n: tasks.summarise(rng, n, picker),
        "code": lambda n: tasks.code(rng, n),
        "math": lambda n: tasks.math(rng, n),
        "plan": lambda n: tasks.plan(rng, n),
        "constrained": lambda n: tasks.constrained(rng, n, topics),
        "extract": lambda n: tasks.extract(rng, n, picker),
        "creative": lambda n: tasks.creative(rng, n, topics),
        "multiturn": lambda n: tasks.multiturn(rng, n, picker),
    }
    seen: set[str] = set()
    rows: list[dict] = []
    exact = 0
    for task, n in COUNTS.items():
        got = 0
        for _ in range(20):
            if got == n:
                break
            for r in build[task](n - got):
                if text_of(r) in seen:
                    exact += 1
                    continue
                seen.add(text_of(r))
                rows.append(r)
                got += 1
    rng.shuffle(rows)  # task types interleaved: any prefix of the file is a fair sample
    return rows, exact


def read_foreign() -> list[dict]:
    return [json.loads(line) for line in FOREIGN.read_text(encoding="utf-8").splitlines() if line.strip()]


def build() -> tuple[list[dict], dict]:
    """(the rows of broad.jsonl, what was dropped: counts and the near-duplicates of foreign
    prompts)."""
    from arctic_ray.curate.dedup.config import DedupConfig
    from arctic_ray.curate.dedup.decontaminate import dedup_against

    rows, exact = generate()
    for i, r in enumerate(rows):
        r["id"] = f"c{i:05d}"  # provisional: dedup keeps the smallest id of a group, the earlier row
    reference = [text_of(f) for f in read_foreign()]
    kept, removed = dedup_against(rows, text_of, reference, DedupConfig(threshold=THRESHOLD))
    of_foreign = [r for r in removed if r["duplicate_of"].startswith("eval prompt")]
    out = [
        {"id": f"broad-{i:05d}", "task": r["task"], "topic": r["topic"], "messages": r["messages"]}
        for i, r in enumerate(kept, 1)
    ]
    stats = {
        "generated": len(rows),
        "exact": exact,
        "near_foreign": of_foreign,
        "near_within": len(removed) - len(of_foreign),
    }
    return out, stats


def main() -> None:
    from arctic_ray.data.messages import row_problem

    rows, stats = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for r in rows:
            problem = row_problem(r)
            if problem:
                raise SystemExit(f"generated row {r['id']} is unusable: {problem}")
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")

    print(f"generated {stats['generated']} distinct prompts (dropped {stats['exact']} exact duplicates on the way)")
    print(
        f"MinHash (Jaccard >= {THRESHOLD}) dropped {len(stats['near_foreign'])} near-duplicates of foreign eval ",
        end="",
    )
    print(f"prompts and {stats['near_within']} near-duplicates of other generated prompts")
    for r in stats["near_foreign"]:
        print(f"  {r['duplicate_of']}: {text_of(r)[:100]!r}")
    print(f"wrote {len(rows)} prompts to {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    print(f"{len({r['topic'] for r in rows})} distinct topics")
    counts = Counter(r["task"] for r in rows)
    for task in COUNTS:
        print(f"  {task:12s} {counts[task]:5d}")


if __name__ == "__main__":
    main()
