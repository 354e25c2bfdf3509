"""Preference pairs from any source in TRL's formats, checked: every row becomes one pair
`{id, prompt, chosen, rejected}` (message lists: the prompt's turns, then each response's) or a
reject with its reason; a held-out share is chosen by a stable hash of the id.

Formats read: conversational (`prompt`, `chosen`, `rejected` as message lists; what the preference
job writes and UltraFeedback-binarized uses), implicit prompt (`chosen` and `rejected` as whole
conversations whose shared leading turns are the prompt), and standard text (`prompt`, `chosen`,
`rejected` as strings: a user turn and an assistant answer)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from arctic_ray.data.chat_examples import held_out
from arctic_ray.data.messages import ROLES
from arctic_ray.data.sources import SourceConfig, SourceError, read_source


@dataclass
class PairRows:
    train: list[dict] = field(default_factory=list)
    eval: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _messages(value: object, role: str) -> list[dict] | None:
    """A message list from a message list or a plain string (one `role` turn)."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return [{"role": m.get("role"), "content": m.get("content")} for m in value]
    return None


def as_pair(row: object) -> tuple[dict | None, str]:
    """(the pair, "") or (None, why the row cannot train)."""
    if not isinstance(row, dict):
        return None, f"a row must be an object, got {type(row).__name__}"
    for column in ("chosen", "rejected"):
        if row.get(column) is None:
            return None, f"missing `{column}`"
    chosen, rejected = _messages(row["chosen"], "assistant"), _messages(row["rejected"], "assistant")
    if chosen is None or rejected is None:
        return None, "`chosen` and `rejected` must be message lists or strings"
    if row.get("prompt") is not None:
        prompt = _messages(row["prompt"], "user")
        if prompt is None:
            return None, "`prompt` must be a message list or a string"
    else:  # implicit prompt: the turns both conversations share
        shared = 0
        while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
            shared += 1
        if shared == 0:
            return None, "missing `prompt`, and `chosen` and `rejected` share no leading turn to take as one"
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    for name, turns in (("prompt", prompt), ("chosen", chosen), ("rejected", rejected)):
        if not turns:
            return None, f"`{name}` has no turns"
        for i, m in enumerate(turns):
            if m["role"] not in ROLES:
                return None, f"{name}[{i}].role {m['role']!r} is not one of {', '.join(ROLES)}"
            if not isinstance(m["content"], str) or not m["content"].strip():
                return None, f"{name}[{i}] is an empty turn"
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if turns[-1]["role"] != "assistant":
            return None, f"`{name}` must end with an assistant turn (the response that is trained)"
    if chosen == rejected:
        return None, "chosen equals rejected: nothing to prefer"
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}, ""


def read_pairs(sources: list[SourceConfig], eval_sources: list[SourceConfig], eval_fraction: float) -> PairRows:
    """Every source's pairs: train and held out (the eval sources, else a share by id), rejects."""
    out, seen = PairRows(), set()
    for split, group in (("train", sources), ("eval", eval_sources)):
        for source in group:
            found = 0
            for i, src in enumerate(read_source(source.path, source.split)):
                row = src.row
                row_id = str(row.get("id", f"{source.label}:{i}")) if isinstance(row, dict) else f"{source.label}:{i}"
                pair, reason = as_pair(row)
                if pair is not None and row_id in seen:
                    pair, reason = None, f"duplicate id {row_id!r}"
                out.counts["rows"] += 1
                if pair is None:
                    out.counts["rejected"] += 1
                    out.rejects.append(
                        {
                            "stage": "read",
                            "source": source.label,
                            "where": src.where,
                            "reason": reason,
                            "row": src.raw or str(row),
                        }
                    )
                    continue
                seen.add(row_id)
                found += 1
                pair = {"id": row_id, **pair}
                if split == "eval" or (not eval_sources and held_out(row_id, eval_fraction)):
                    out.eval.append(pair)
                else:
                    out.train.append(pair)
            if not found:
                raise SourceError(
                    f"{source.path}: no usable preference pairs ({out.counts['rejected']} rejected so far)"
                )
    out.counts.update(train=len(out.train), eval=len(out.eval))
    return out
