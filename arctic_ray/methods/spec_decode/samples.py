"""Generations -> fixed-length token rows for speculator training (`input_ids` right-padded to
seq_len, `completion_start`, `length`).

The token ids are the engine's own (prompt after chat templating, then the completion), so
training sees exactly the path the base model took. Rows too short to teach anything are set
aside with a reason instead of being dropped."""

from __future__ import annotations

from typing import cast

import numpy as np
import ray.data

from arctic_ray.data.chat import chat_ids


def _problem(prompt: list[int], completion: list[int], seq_len: int, n_predict: int) -> str:
    # Step j at index t proposes token t+2+j: a completion token must sit at least n_predict + 1
    # places after the first position for every step to be trained.
    usable = min(len(prompt) + len(completion), seq_len) - max(len(prompt), 1)
    if not completion:
        return "empty completion"
    if len(prompt) >= seq_len:
        return f"prompt ({len(prompt)} tokens) does not fit seq_len {seq_len}"
    if usable < n_predict + 1:
        return f"only {usable} completion tokens fit; need {n_predict + 1}"
    return ""


def training_columns(rows: list[dict], seq_len: int, n_predict: int, pad_id: int) -> tuple[dict, list[dict]]:
    """(columns of the usable rows, rejects with `id` and `reason`)."""
    ids, starts, lengths, names, rejects = [], [], [], [], []
    for row in rows:
        prompt, completion = list(row["prompt_token_ids"]), list(row["completion_token_ids"])
        reason = _problem(prompt, completion, seq_len, n_predict)
        if reason:
            rejects.append({"stage": "tokenize", "id": row["id"], "reason": reason})
            continue
        tokens = (prompt + completion)[:seq_len]
        padded = np.full(seq_len, pad_id, dtype=np.int64)
        padded[: len(tokens)] = tokens
        ids.append(padded)
        starts.append(len(prompt))
        lengths.append(len(tokens))
        names.append(str(row["id"]))
    columns = {
        "id": np.array(names, dtype=object),
        "input_ids": np.stack(ids) if ids else np.zeros((0, seq_len), dtype=np.int64),
        "completion_start": np.array(starts, dtype=np.int64),
        "length": np.array(lengths, dtype=np.int64),
    }
    return columns, rejects


def to_speculator_samples(
    ds: ray.data.Dataset, seq_len: int, n_predict: int, pad_id: int
) -> tuple[ray.data.Dataset, list[dict]]:
    """Offline: (samples, rejects) of a dataset of generations."""
    tagged = ds.map_batches(lambda b: _tag(b, seq_len, n_predict, pad_id), batch_format="pyarrow").materialize()
    samples = tagged.filter(lambda r: not r["reject_reason"]).drop_columns(["reject_reason"])
    unusable = tagged.filter(lambda r: bool(r["reject_reason"])).select_columns(["id", "reject_reason"])
    rejects = [{"stage": "tokenize", "id": r["id"], "reason": r["reject_reason"]} for r in unusable.iter_rows()]
    return samples, rejects


def _tag(batch, seq_len: int, n_predict: int, pad_id: int) -> dict:
    """Every row converted, unusable ones with a reason (and a padding row of ids)."""
    rows = batch.to_pylist()
    out = {"id": [], "input_ids": [], "completion_start": [], "length": [], "reject_reason": []}
    for row in rows:
        columns, rejects = training_columns([row], seq_len, n_predict, pad_id)
        usable = not rejects
        out["id"].append(str(row["id"]))
        out["input_ids"].append(columns["input_ids"][0] if usable else np.full(seq_len, pad_id, dtype=np.int64))
        out["completion_start"].append(int(columns["completion_start"][0]) if usable else 0)
        out["length"].append(int(columns["length"][0]) if usable else 0)
        out["reject_reason"].append("" if usable else rejects[0]["reason"])
    return {
        k: np.stack(v) if k == "input_ids" else np.array(v, dtype=object if k in ("id", "reject_reason") else np.int64)
        for k, v in out.items()
    }


def completion_tokens(generations: ray.data.Dataset) -> int:
    """The completion tokens of a dataset of generations (what a run trains its drafter on)."""
    lengths = generations.select_columns(["completion_token_ids"]).map_batches(
        lambda b: {"n": np.array([len(ids) for ids in b["completion_token_ids"]], dtype=np.int64)},
        batch_format="numpy",
    )
    total = lengths.sum("n")  # None for no rows
    return int(cast(int, total or 0))


def response_generations(rows: list[dict], tokenizer) -> tuple[list[dict], list[dict]]:
    """Rows carrying a reference `response` as generation-shaped rows (prompt and completion
    token ids, through the chat template), and rejects for templates whose rendering of the
    prompt is not a prefix of the rendered conversation."""
    out, rejects = [], []
    for row in rows:
        prompt = chat_ids(tokenizer, row["messages"], add_generation_prompt=True)
        full = chat_ids(
            tokenizer,
            [*row["messages"], {"role": "assistant", "content": row["response"]}],
            add_generation_prompt=False,
        )
        if full[: len(prompt)] != prompt:
            rejects.append(
                {
                    "stage": "tokenize",
                    "id": row["id"],
                    "reason": "chat template: the prompt is not a prefix of the conversation",
                }
            )
            continue
        out.append({"id": row["id"], "prompt_token_ids": prompt, "completion_token_ids": full[len(prompt) :]})
    return out, rejects
