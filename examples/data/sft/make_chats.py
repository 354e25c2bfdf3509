"""Writes the small chat sets the SFT examples train on (run from the repo root to regenerate):
`math.jsonl` (arithmetic word problems, some multi-turn with a follow-up), `identity.jsonl`
(who the assistant is, multi-turn) and `general.jsonl` (the example prompts answered in a few
plain sentences, with a follow-up turn). Deterministic: the same files every time."""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(0)


def math_chats(n: int) -> list[dict]:
    items = ["apples", "books", "marbles", "stamps", "shells", "pencils", "cookies", "coins"]
    names = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana"]
    out = []
    for i in range(n):
        name, item = rng.choice(names), rng.choice(items)
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        q = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        ans = f"{name} starts with {a} {item} and gets {b} more, so {a} + {b} = {a + b}. {name} has {a + b} {item}."
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": ans}]
        if i % 3 == 0:
            c = rng.randint(1, a + b)
            messages += [
                {"role": "user", "content": f"Then {name} gives away {c}. How many are left?"},
                {"role": "assistant", "content": f"{a + b} - {c} = {a + b - c}. {name} has {a + b - c} {item} left."},
            ]
        out.append({"id": f"math-{i:04d}", "messages": messages})
    return out


def identity_chats() -> list[dict]:
    asks = ["Who are you?", "What is your name?", "Who made you?", "What can you help me with?", "Are you a person?"]
    answers = [
        "I am a small assistant fine-tuned with arctic_ray, an open system for LLM post-training on Ray.",
        "I am an assistant fine-tuned with arctic_ray. I don't have a personal name.",
        "I was fine-tuned with arctic_ray, from an open base model, on Ray Train with DeepSpeed.",
        "I can answer questions, explain ideas, and help with short writing and arithmetic.",
        "No. I am a language model: I write text that is likely to help, and I can be wrong.",
    ]
    out = []
    for i, (ask, answer) in enumerate(zip(asks, answers, strict=False)):
        out.append(
            {
                "id": f"identity-{i}",
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": ask},
                    {"role": "assistant", "content": answer},
                ],
            }
        )
        follow = asks[(i + 1) % len(asks)]
        out.append(
            {
                "id": f"identity-{i}-multi",
                "messages": [
                    {"role": "user", "content": ask},
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": follow},
                    {"role": "assistant", "content": answers[(i + 1) % len(asks)]},
                ],
            }
        )
    return out


def general_chats() -> list[dict]:
    prompts = [json.loads(line) for line in (HERE.parent / "prompts.jsonl").read_text().splitlines()]
    out = []
    for row in prompts:
        q = row["messages"][-1]["content"]
        topic = q.rstrip("?.").split(" about ")[-1].split(" of ")[-1]
        answer = (
            f"Here is a short answer. {q} In brief: it is a topic worth learning step by step, "
            "starting from the basic idea and then the details."
        )
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": answer}]
        if rng.random() < 0.4:
            messages += [
                {"role": "user", "content": "Can you say that in one sentence?"},
                {
                    "role": "assistant",
                    "content": f"In one sentence: {topic} is best understood from its basic idea outwards.",
                },
            ]
        out.append({"id": row["id"], "messages": messages})
    return out


if __name__ == "__main__":
    for name, chats in (("math", math_chats(400)), ("identity", identity_chats()), ("general", general_chats())):
        (HERE / f"{name}.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats))
        print(name, len(chats))
