"""Prompt rows from a Snowflake table: an id column and either a messages column (a JSON array of
{role, content}, as VARIANT or text) or a prompt text column (one user message, after an optional
system prompt). Rows come out as `read_prompts` gives them (a trailing assistant turn becomes the
reference `response`); rows that cannot be used are rejects with their reason, never dropped."""

from __future__ import annotations

import json
import re

from pydantic import Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.data.messages import row_problem
from arctic_ray.data.prompts import PromptSet
from arctic_ray.data.snowflake_connection import SnowflakeConnection

# Names are written into the statement: plain or double-quoted identifiers, dotted at most twice.
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")'
_TABLE = re.compile(rf"^{_PART}(?:\.{_PART}){{0,2}}$")
_COLUMN = re.compile(rf"^{_PART}$")
FETCH_ROWS = 1000


class SnowflakePromptTable(StrictConfig):
    connection: SnowflakeConnection
    table: str
    """`TABLE`, `SCHEMA.TABLE` or `DATABASE.SCHEMA.TABLE`."""

    id_column: str = "ID"
    messages_column: str | None = None
    """A JSON array of {role, content} (VARIANT, or text holding JSON)."""

    prompt_column: str | None = None
    """Plain prompt text, sent as one user message."""

    system_prompt: str | None = None
    """Put before every prompt read from `prompt_column`."""

    limit: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SnowflakePromptTable:
        if (self.messages_column is None) == (self.prompt_column is None):
            raise ValueError("give exactly one of messages_column or prompt_column")
        if not _TABLE.match(self.table):
            raise ValueError(f"table {self.table!r} is not a Snowflake table name")
        for column in (self.id_column, self.messages_column or self.prompt_column or ""):
            if not _COLUMN.match(column):
                raise ValueError(f"column {column!r} is not a Snowflake column name")
        return self

    def sql(self) -> str:
        text = self.messages_column or self.prompt_column
        limit = f" LIMIT {self.limit}" if self.limit else ""
        return f"SELECT {self.id_column}, {text} FROM {self.table} ORDER BY {self.id_column}{limit}"

    def read(self) -> PromptSet:
        out, seen = PromptSet(), set()
        conn = self.connection.connect()
        try:
            cur = conn.cursor()
            cur.execute(self.sql())
            while batch := cur.fetchmany(FETCH_ROWS):
                for row_id, value in batch:
                    row, reason = self._prompt(row_id, value)
                    if not reason and row["id"] in seen:
                        reason = f"duplicate id {row['id']!r}"
                    if reason:
                        out.rejects.append(
                            {
                                "stage": "read",
                                "where": self.table,
                                "id": row_id,
                                "reason": reason,
                                "row": str(value)[:1000],
                            }
                        )
                        continue
                    seen.add(row["id"])
                    out.rows.append(row)
        finally:
            conn.close()
        return out

    def _prompt(self, row_id, value) -> tuple[dict, str | None]:
        if self.prompt_column:
            system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages = system + [{"role": "user", "content": value}] if isinstance(value, str) else None
        else:
            try:
                messages = json.loads(value) if isinstance(value, str) else value
            except ValueError as exc:
                return {}, f"{self.messages_column} is not JSON: {exc}"
        row = {"id": "" if row_id is None else str(row_id), "messages": messages}
        reason = row_problem(row)
        if reason or not isinstance(messages, list):  # (row_problem refuses anything but a list)
            return row, reason or "messages is not a list"
        messages, response = [{"role": m["role"], "content": m["content"]} for m in messages], ""
        if messages[-1]["role"] == "assistant":
            messages, response = messages[:-1], messages[-1]["content"]
        return {"id": row["id"], "messages": messages, "response": response}, None
