"""One raw chat row, in any of the layouts that public chat datasets are saved in, turned into the
project's request row (`id` + `messages`, roles system/user/assistant). `data/sources.py` reads
the rows (an HF dataset saved with `save_to_disk` among them); this says what each row means, so
a reader can take UltraChat or ShareGPT data as it comes instead of asking for a conversion
script. A row that cannot be converted comes back with its reason, like any other reject: an
unknown speaker is a reason, not a crash, since one odd row must not stop a read of thousands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from arctic_ray.data.messages import row_problem

CHAT_LAYOUTS: dict[str, str] = {
    "messages": "`messages`: a list of {role, content} (this project's rows; UltraChat-200k, most chat sets)",
    "data": "`data`: a list of strings, user and assistant turns alternating, user first (UltraChat)",
    "conversations": "`conversations`: a list of {from: human|gpt|system, value} (ShareGPT)",
}
"""The column each layout is recognised by, checked in this order: a row with several of them is
read by the first."""

ID_FIELDS = ("id", "prompt_id", "conversation_id")
"""Where a row's id is looked for, in order (UltraChat-200k calls it `prompt_id`); a row with
none gets `row-<index>`, so its reject or its output can still be found."""

SPEAKERS: dict[str, str] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
}
"""Names a turn's speaker may have (a `role` or a ShareGPT `from`) and the role each becomes
(`developer` is the newer name some APIs give the system turn). Others (tool, function,
observation...) have no request role here: the row is refused."""


def _either(names: Iterable[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def to_chat(row: Any, index: int) -> tuple[dict | None, str]:
    """(`{"id", "messages"}`, "") for a row of a known layout, or (None, why not). `index` is the
    row's position in its source, the id of a row that has none. A `sampling` object is carried
    over (this project's rows may have one); other columns are dropped."""
    if not isinstance(row, dict):
        return None, f"a row must be an object, got {type(row).__name__}"
    layout = next((name for name in CHAT_LAYOUTS if row.get(name) is not None), None)
    if layout is None:
        return None, f"no chat column: expected {_either(CHAT_LAYOUTS)}"
    turns = row[layout]
    if not isinstance(turns, list) or not turns:
        return None, f"`{layout}` must be a non-empty list"
    if layout == "data":
        messages, reason = _alternating(turns)
    else:
        key, text = ("role", "content") if layout == "messages" else ("from", "value")
        messages, reason = _speakers(turns, layout, key, text)
    if messages is None:
        return None, reason
    out: dict[str, Any] = {"id": _row_id(row, index), "messages": messages}
    if row.get("sampling") is not None:
        out["sampling"] = row["sampling"]
    problem = row_problem(out)
    return (None, problem) if problem else (out, "")


def _row_id(row: dict, index: int) -> str:
    for name in ID_FIELDS:
        value = row.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            return str(value)
    return f"row-{index}"


def _speakers(turns: list, layout: str, key: str, text: str) -> tuple[list[dict] | None, str]:
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            return None, f"{layout}[{i}] is not an object"
        speaker = turn.get(key)
        if speaker not in SPEAKERS:
            return None, f"{layout}[{i}].{key} {speaker!r} is not one of {', '.join(SPEAKERS)}"
        content = turn.get(text)
        problem = _text_problem(f"{layout}[{i}].{text}", content)
        if problem:
            return None, problem
        messages.append({"role": SPEAKERS[speaker], "content": content})
    return messages, ""


def _alternating(turns: list) -> tuple[list[dict] | None, str]:
    messages = []
    for i, content in enumerate(turns):
        problem = _text_problem(f"data[{i}]", content)
        if problem:
            return None, problem
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
    return messages, ""


def _text_problem(where: str, content: Any) -> str:
    if not isinstance(content, str):
        return f"{where} must be a string, got {type(content).__name__}"
    return "" if content.strip() else f"{where} is empty"
