"""The reward model's Ray Data actor: loads a one-label `AutoModelForSequenceClassification` once,
then scores batches of rows. Each row is its `messages` plus an assistant turn holding its
`completion`, rendered by the reward model's own chat template.

Scores are read at each row's last token. Hugging Face's sequence classifiers read them at the
rightmost token that is not `pad_token_id`; where the pad id is also a token the row ends with
(`pad == eos`, common in Llama-style tokenizers, with a template that ends on eos) that is the
token *before* the row's own eos. So each batch is padded on the right with an id that occurs in
none of its rows, and the classifier is told that id: it then pools exactly at the last token,
and a row scores the same alone or beside longer rows. A conversation over `max_length` tokens keeps its last
`max_length` tokens (the completion is what is judged; a cut-off start of the prompt matters
less) and is flagged in the `truncated` column. A row that cannot be scored gets a null score
and its reason in `REASON`, for the step to reject."""

from __future__ import annotations

import math

import pyarrow as pa

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.curate.rejects import RAW, REASON
from arctic_ray.data.chat import chat_ids
from arctic_ray.models.causal_lm import pad_token_id
from arctic_ray.models.ref import ModelRef


class NotARewardModelError(ArcticRayError):
    pass


def unscorable(row: dict, messages_field: str, completion_field: str) -> str:
    """Why a row cannot be scored ("" when it can)."""
    messages, completion = row.get(messages_field), row.get(completion_field)
    if not isinstance(messages, list) or not messages:
        return f"no messages in {messages_field!r}"
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            return f"message {i} of {messages_field!r} has no text role and content"
    if completion is None:
        return f"no completion in {completion_field!r}"
    if not isinstance(completion, str):
        return f"completion {completion_field!r} is not a string ({type(completion).__name__})"
    if not completion.strip():
        return "empty completion"
    return ""


class RewardScorer:
    def __init__(
        self,
        model: ModelRef,
        messages_field: str,
        completion_field: str,
        score_field: str,
        truncated_field: str,
        max_length: int,
        use_gpu: bool,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = model.path()  # on this actor's node, checked against the driver's identity
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        dtype = torch.bfloat16 if use_gpu else torch.float32
        self.device = "cuda" if use_gpu else "cpu"
        self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype).to(self.device).eval()
        if self.model.config.num_labels != 1:
            raise NotARewardModelError(
                f"{model.name} is not a reward model: it has {self.model.config.num_labels} labels, not 1"
            )
        config = self.model.config.get_text_config()
        if config.pad_token_id is None:  # batches need a pad id the classifier knows to skip
            try:
                config.pad_token_id = pad_token_id(self.tokenizer)
            except ArcticRayError as err:
                raise NotARewardModelError(f"{model}: {err}: its batches cannot be scored") from None
        self.pad_id = config.pad_token_id
        self.text_config = config
        self.vocab_size = int(getattr(config, "vocab_size", 0) or len(self.tokenizer))
        self.fields = (messages_field, completion_field)
        self.score_field, self.truncated_field, self.max_length = score_field, truncated_field, max_length

    def ids(self, row: dict) -> tuple[list[int] | None, str]:
        """(the row's token ids, "") or (None, why it cannot be scored)."""
        messages_field, completion_field = self.fields
        reason = unscorable(row, messages_field, completion_field)
        if reason:
            return None, reason
        chat = [{"role": m["role"], "content": m["content"]} for m in row[messages_field]]
        chat.append({"role": "assistant", "content": row[completion_field]})
        try:
            return chat_ids(self.tokenizer, chat, add_generation_prompt=False), ""
        except Exception as exc:  # a template that refuses this conversation (e.g. role order)
            return None, f"chat template failed: {exc}"[:300]

    def scores(self, rows: list[list[int]]) -> list[float]:
        import torch

        longest = max(len(ids) for ids in rows)
        pad = self._pad_for(rows)
        self.text_config.pad_token_id = pad  # the classifier pools at the rightmost non-pad token
        input_ids = torch.full((len(rows), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, : len(ids)], mask[i, : len(ids)] = torch.tensor(ids), 1
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
        return logits[:, 0].float().cpu().tolist()

    def _pad_for(self, rows: list[list[int]]) -> int:
        """The model's pad id when no row holds it, else the highest id none holds."""
        used = {i for ids in rows for i in ids}
        if self.pad_id not in used:
            return self.pad_id
        return next(i for i in range(self.vocab_size - 1, -1, -1) if i not in used)

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        scores, truncated, reasons, scorable = [None] * n, [False] * n, [""] * n, {}
        for i, row in enumerate(batch.to_pylist()):
            ids, reasons[i] = self.ids(row)
            if ids is not None:
                truncated[i] = len(ids) > self.max_length
                scorable[i] = ids[-self.max_length :]
        if scorable:
            for i, score in zip(scorable, self.scores(list(scorable.values())), strict=False):
                if math.isfinite(score):
                    scores[i] = score
                else:
                    reasons[i] = f"reward model gave a non-finite score ({score})"
        added = {
            self.score_field: pa.array(scores, pa.float64()),
            self.truncated_field: pa.array(truncated, pa.bool_()),
            REASON: pa.array(reasons, pa.string()),
            RAW: pa.array([""] * n, pa.string()),
        }
        batch = batch.drop_columns([c for c in added if c in batch.column_names])
        for name, column in added.items():
            batch = batch.append_column(name, column)
        return batch
