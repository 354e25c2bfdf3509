"""Writes `pairs.jsonl`, the small preference set the tiny DPO example trains on (run from the
repo root to regenerate): arithmetic word problems in TRL's conversational format, `chosen` the
answer with the right sum, `rejected` the same answer with a wrong one. Deterministic."""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(0)
ITEMS = ["apples", "books", "marbles", "stamps", "shells", "pencils", "cookies", "coins"]
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana"]


def pair(i: int) -> dict:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(3, 60), rng.randint(2, 40)
    wrong = a + b + rng.choice([-3, -2, -1, 1, 2, 3, 10])
    question = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"

    def answer(total: int) -> list[dict]:
        text = f"{name} starts with {a} {item} and gets {b} more, so {a} + {b} = {total}. {name} has {total} {item}."
        return [{"role": "assistant", "content": text}]

    return {
        "id": f"pair-{i:04d}",
        "prompt": [{"role": "user", "content": question}],
        "chosen": answer(a + b),
        "rejected": answer(wrong),
    }


if __name__ == "__main__":
    rows = [pair(i) for i in range(320)]
    (HERE / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
