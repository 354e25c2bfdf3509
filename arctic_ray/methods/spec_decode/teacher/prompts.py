"""Prompt rows made ready for the teacher (either mode): chat-templated token ids and the token
budget `gen_seq_length - prompt length`. Empty and over-long prompts are set aside with the
reason."""

from __future__ import annotations

from arctic_ray.data.chat import chat_ids


def teacher_prompts(
    rows: list[dict], tokenizer, gen_prompt_length: int, gen_seq_length: int
) -> tuple[list[dict], list[dict]]:
    ready, rejects = [], []
    for row in rows:
        if not any(m["content"].strip() for m in row["messages"]):
            rejects.append({"stage": "teacher_prompt", "id": row["id"], "reason": "empty prompt"})
            continue
        ids = chat_ids(tokenizer, row["messages"], add_generation_prompt=True)
        if len(ids) > gen_prompt_length:
            reason = f"prompt is {len(ids)} tokens; teacher.gen_prompt_length is {gen_prompt_length}"
            rejects.append({"stage": "teacher_prompt", "id": row["id"], "reason": reason})
            continue
        ready.append({**row, "prompt_token_ids": ids, "max_tokens": gen_seq_length - len(ids)})
    return ready, rejects
