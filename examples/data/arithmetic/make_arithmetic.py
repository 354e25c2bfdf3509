"""Writes the arithmetic prompt sets for the preference-data (DPO) examples (run from anywhere to
regenerate): `train.jsonl` (600 prompts, the pool sampled pairs are built from) and
`heldout.jsonl` (400 prompts the pairs never see, for greedy verified accuracy before/after DPO).

Each line: {"id": "arith-train-0001", "kind": "add", "messages": [{"role": "user", "content":
"What is 3 + 4? Give the final answer as a number."}], "answer": "7"} -- `answer` is a plain
integer string, checked with math-verify; `kind` names the task type (for per-type figures).

The mix is tuned for SmolLM2-135M-Instruct, which is weak at arithmetic: mostly one-digit sums,
times tables, n + 1 and n x 10, with a tail of two-digit sums, subtraction, word problems and
a + b - c. Sampled at temperature 0.8 / top_p 0.95 it gets about 35% of its answers right (greedy:
about 50%), and about 65% of prompts get both a right and a wrong sample out of 4 (README.md has the
figures; calibrate.py measures them).

Train and heldout are disjoint in number combinations, not only in wording: every combination
(operation, sorted operands) -- so "3 + 4", "4 plus 3" and "Tom has 3 apples and buys 4 more"
are one combination -- belongs to one split only (40% of each kind's combinations go to heldout,
chosen with the fixed seed), and a combination is used at most MAX_USES times within its split
(in different wordings). Deterministic (fixed seed, stdlib only): the same files every time."""

import json
import random
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 1234
N_TRAIN, N_HELDOUT = 600, 400
HELDOUT_SHARE = 0.4  # share of the number combinations that belong to heldout
MAX_USES = 6  # a number combination appears at most this many times within its split
SUFFIX = "Give the final answer as a number."

NAMES = ["Tom", "Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Maya"]
ITEMS = ["apples", "books", "marbles", "stamps", "shells", "pencils", "cookies", "coins", "stickers", "cards"]


def _pair(rng, lo, hi):
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    return a, b


# Each maker returns (question, answer, operation, operands); the combination key is
# (operation, sorted operands).
def _add(rng):  # small sums
    a, b = _pair(rng, 1, 12)
    return f"What is {a} + {b}?", a + b, "+", (a, b)


def _add_plus(rng):
    a, b = _pair(rng, 1, 12)
    form = rng.choice(["What is {a} plus {b}?", "What is the sum of {a} and {b}?"])
    return form.format(a=a, b=b), a + b, "+", (a, b)


def _plus_one(rng):
    n = rng.randint(11, 99)
    form = rng.choice(["What is {n} + 1?", "What is 1 + {n}?", "What is {n} plus 1?"])
    return form.format(n=n), n + 1, "+", (n, 1)


def _double(rng):
    n = rng.randint(2, 40)
    form = rng.choice(["What is {n} + {n}?", "What is {n} plus {n}?"])
    return form.format(n=n), 2 * n, "+", (n, n)


def _add_2d(rng):
    a, b = _pair(rng, 10, 40)
    return f"What is {a} + {b}?", a + b, "+", (a, b)


def _sub(rng):
    a, b = rng.randint(6, 20), rng.randint(1, 5)
    form = rng.choice(["What is {a} - {b}?", "What is {a} minus {b}?"])
    return form.format(a=a, b=b), a - b, "-", (a, b)


def _mul(rng):  # times tables up to 10 (the 11 and 12 tables are much harder for the model)
    a, b = _pair(rng, 2, 10)
    form = rng.choice(["What is {a} × {b}?", "What is {a} times {b}?", "What is {a} multiplied by {b}?"])
    return form.format(a=a, b=b), a * b, "×", (a, b)


def _mul_10(rng):
    n = rng.randint(2, 50)
    form = rng.choice(["What is {n} × 10?", "What is 10 × {n}?", "What is {n} times 10?", "What is 10 times {n}?"])
    return form.format(n=n), n * 10, "×", (n, 10)


def _add_sub(rng):
    a, b = _pair(rng, 2, 9)
    c = rng.randint(1, min(5, a + b - 1))  # the answer stays positive
    return f"What is {a} + {b} - {c}?", a + b - c, "+-", (*sorted((a, b)), c)


def _word_add(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = _pair(rng, 2, 12)
    verb = rng.choice(["buys", "finds", "gets"])
    q = f"{name} has {a} {item} and {verb} {b} more. How many {item} does {name} have now?"
    return q, a + b, "+", (a, b)


def _word_sub(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(6, 20), rng.randint(1, 5)
    verb = rng.choice(["gives away", "loses", "sells"])
    q = f"{name} has {a} {item} and {verb} {b} of them. How many {item} does {name} have left?"
    return q, a - b, "-", (a, b)


def _word_mul(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(2, 5), rng.randint(2, 10)
    q = f"{name} has {a} boxes with {b} {item} in each box. How many {item} does {name} have in total?"
    return q, a * b, "×", (a, b)


# kind -> (maker, weight). The weights set the difficulty mix; README.md has the measured figures.
TASKS = {
    "add": (_add, 2),
    "add_plus": (_add_plus, 4),
    "plus_one": (_plus_one, 3),
    "double": (_double, 1),
    "add_2d": (_add_2d, 1),
    "sub": (_sub, 1),
    "mul": (_mul, 3),
    "mul_10": (_mul_10, 3),
    "add_sub": (_add_sub, 1),
    "word_add": (_word_add, 1),
    "word_sub": (_word_sub, 1),
    "word_mul": (_word_mul, 1),
}  # each split has exactly its share per kind (see quotas())


def combination(op: str, operands: tuple) -> tuple:
    return op, tuple(sorted(operands))


def assign_splits(seed: int) -> dict[tuple, str]:
    """Which split each number combination belongs to, stratified by kind: each kind's combinations
    (those not already taken by an earlier kind) are shuffled and HELDOUT_SHARE of them go to heldout.
    A kind's combinations are found by drawing it many times (every space here is under 500)."""
    rng = random.Random(seed)
    owner: dict[tuple, str] = {}
    for kind, (maker, _) in TASKS.items():
        draw = random.Random(f"space-{kind}")
        space = {combination(*maker(draw)[2:]) for _ in range(20_000)}
        fresh = sorted(space - owner.keys())
        rng.shuffle(fresh)
        n_heldout = round(HELDOUT_SHARE * len(fresh))
        owner.update({key: "heldout" if i < n_heldout else "train" for i, key in enumerate(fresh)})
    return owner


def quotas(n: int) -> dict[str, int]:
    """Prompts per kind: n split in proportion to the weights (largest remainder)."""
    total = sum(w for _, w in TASKS.values())
    exact = {k: n * w / total for k, (_, w) in TASKS.items()}
    out = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: out[k] - exact[k])[: n - sum(out.values())]:
        out[k] += 1
    return out


def make_rows(rng: random.Random, n: int, split: str, owner: dict, questions: set) -> list[dict]:
    slots = [k for k, q in quotas(n).items() for _ in range(q)]
    rng.shuffle(slots)
    uses: Counter = Counter()
    rows = []
    for kind in slots:
        for _ in range(10_000):
            question, answer, op, operands = TASKS[kind][0](rng)
            key = combination(op, operands)
            if owner[key] == split and uses[key] < MAX_USES and question not in questions:
                break
        else:
            raise RuntimeError(f"no room left for a {split} {kind!r} prompt; widen its ranges or raise MAX_USES")
        uses[key] += 1
        questions.add(question)
        rows.append(
            {
                "id": f"arith-{split}-{len(rows) + 1:04d}",
                "kind": kind,
                "messages": [{"role": "user", "content": f"{question} {SUFFIX}"}],
                "answer": str(answer),
            }
        )
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    owner = assign_splits(SEED)
    rng = random.Random(SEED)
    questions: set = set()
    train = make_rows(rng, N_TRAIN, "train", owner, questions)
    heldout = make_rows(rng, N_HELDOUT, "heldout", owner, questions)
    write(HERE / "train.jsonl", train)
    write(HERE / "heldout.jsonl", heldout)
    for name, rows in (("train", train), ("heldout", heldout)):
        mix = Counter(r["kind"] for r in rows)
        print(f"{name}: {len(rows)} prompts, " + ", ".join(f"{k} {mix[k]}" for k in TASKS))


if __name__ == "__main__":
    main()
