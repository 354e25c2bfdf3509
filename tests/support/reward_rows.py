"""Rows for the reward-model judge tests: scorable ones, and unscorable ones with the reason each
must be rejected with."""

from __future__ import annotations

GOOD = [
    {
        "id": "short",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "completion": "Paris.",
    },
    {
        "id": "poem",
        "messages": [{"role": "user", "content": "Write a short poem about the sea."}],
        "completion": "The waves roll in and out, the gulls cry above the shore.",
    },
    {
        "id": "long",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": (
                    "Explain how photosynthesis works, then summarize the history of computers in a few sentences."
                ),
            },
        ],
        "completion": (
            "Plants turn light, water and carbon dioxide into sugar and oxygen. Machines grew from rooms to pockets. "
        )
        * 3,
    },
    {
        "id": "sort",
        "messages": [{"role": "user", "content": "How do I sort a list in Python?"}],
        "completion": "Use sorted(items) or items.sort().",
    },
    {
        "id": "moon",
        "messages": [{"role": "user", "content": "List three facts about the moon."}],
        "completion": "It orbits the Earth, it has no air, and it causes the tides.",
    },
]


BAD = {
    "no-messages": ({"messages": [], "completion": "Hello."}, "no messages in 'messages'"),
    "empty": ({"messages": [{"role": "user", "content": "Hi"}], "completion": "   "}, "empty completion"),
    "null-completion": (
        {"messages": [{"role": "user", "content": "Hi"}], "completion": None},
        "no completion in 'completion'",
    ),
    "null-content": (
        {"messages": [{"role": "user", "content": None}], "completion": "Hello."},
        "message 0 of 'messages' has no text role and content",
    ),
}


def rows_with_bad() -> list[dict]:
    return GOOD + [{"id": name, **row} for name, (row, _) in BAD.items()]
