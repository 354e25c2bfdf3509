"""The one row schema every generation backend writes, and judges and dedup read.

In: `id`, `messages` (and optional per-row `sampling`). Out, added: `completion`,
`finish_reason`, `usage` ({prompt_tokens, completion_tokens}), `backend`, `model`, `error`
(empty when the row succeeded), plus the token ids when a backend knows them."""

OUTPUT_COLUMNS = (
    "completion",
    "finish_reason",
    "usage",
    "backend",
    "model",
    "error",
)


def failed(row: dict) -> bool:
    return bool(row.get("error"))
