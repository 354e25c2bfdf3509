"""The statements the Cortex backend sends: prompts are staged in a temporary table (one
executemany per chunk) and answered set-based, one SELECT over a chunk's staged rows, so a chunk
of hundreds of prompts costs a handful of statements instead of one per prompt."""

from __future__ import annotations

import json
import re

STAGE = "ARCTIC_RAY_CORTEX_STAGE"
TRY_COMPLETE = "TRY_COMPLETE"
"""Answers NULL for a row Cortex cannot answer, so one bad row cannot fail its chunk's statement."""
COMPLETE = "COMPLETE"
"""Raises for such a row: asked for rows TRY_COMPLETE left empty, to learn each one's reason."""

# A model name is written into the statement (Cortex wants a constant): only plain names pass.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")

# Temporary: private to the session, dropped with it, nothing left behind after a crash.
CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (chunk INTEGER, pos INTEGER, messages VARCHAR, options VARCHAR)"
)
INSERT_STAGE = f"INSERT INTO {STAGE} (chunk, pos, messages, options) VALUES (?, ?, ?, ?)"
DELETE_CHUNK = f"DELETE FROM {STAGE} WHERE chunk = ?"


def check_model(model: str) -> str:
    if not _MODEL_NAME.match(model):
        raise ValueError(f"Cortex model name {model!r} must be letters, digits and . _ : - only")
    return model


def complete_sql(function: str, model: str, positions: int | None = None) -> str:
    """SELECT pos, answer over one staged chunk (bind: chunk id), or over `positions` of its rows
    (bind: chunk id, then each position)."""
    where = "chunk = ?" if positions is None else f"chunk = ? AND pos IN ({', '.join('?' * positions)})"
    call = f"SNOWFLAKE.CORTEX.{function}('{check_model(model)}', PARSE_JSON(messages), PARSE_JSON(options))"
    return f"SELECT pos, {call} AS answer FROM {STAGE} WHERE {where}"


def staged_messages(messages: list[dict]) -> str:
    """Cortex's conversation array: role and content only."""
    return json.dumps([{"role": m["role"], "content": m["content"]} for m in messages])


def staged_options(sampling: dict) -> str:
    """Cortex's options object (it has no seed)."""
    return json.dumps({k: sampling[k] for k in ("temperature", "top_p", "max_tokens") if sampling.get(k) is not None})
