"""Chat templating to token ids, one way for every stage; and SFT examples with token-level
assistant masks.

The mask comes from the template itself, turn by turn: an assistant turn's tokens are those
between the rendering of the chat before it (with the generation prompt) and the rendering that
ends with it, so its end-of-turn token(s) are trained and nothing else is. The reply's text is
never searched for (it may also appear earlier in the chat). This holds only when every such
rendering is a token prefix of the whole chat; a template that rewrites or injects earlier turns
(e.g. one dropping earlier reasoning) breaks it and is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from arctic_ray.core.errors import ArcticRayError

IGNORE_INDEX = -100
"""Label of a token that carries no loss (PyTorch's cross-entropy ignore_index)."""

Overlong = Literal["truncate", "drop"]


class ChatTemplateError(ArcticRayError):
    pass


def chat_ids(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=True)
    return list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)


@dataclass
class TokenizedChat:
    input_ids: list[int]
    labels: list[int]
    """input_ids where the token is trained, IGNORE_INDEX elsewhere (not shifted)."""
    truncated: bool = False
    dropped: str | None = None
    """Why the example is not used ("overlong", "no_assistant_tokens"), None when it is."""

    @property
    def outcome(self) -> str:
        return f"dropped_{self.dropped}" if self.dropped else "truncated" if self.truncated else "kept"


def _prefix_len(tokenizer, full: list[int], messages: list[dict], generation_prompt: bool, turn: int) -> int:
    ids = chat_ids(tokenizer, messages, generation_prompt) if messages else []
    if full[: len(ids)] != ids:
        what = "with the generation prompt " if generation_prompt else ""
        raise ChatTemplateError(
            f"the chat template's rendering of the first {len(messages)} messages {what}is not a prefix of "
            f"its rendering of the whole chat (at message {turn}): the template rewrites or injects earlier "
            "turns, so assistant tokens cannot be located turn by turn; use a template that renders each "
            "turn the same whatever follows it"
        )
    return len(ids)


def assistant_labels(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """The whole chat's token ids and labels with every assistant turn trained."""
    full = chat_ids(tokenizer, messages, add_generation_prompt=False)
    labels = [IGNORE_INDEX] * len(full)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = _prefix_len(tokenizer, full, messages[:i], True, i)
        end = _prefix_len(tokenizer, full, messages[: i + 1], False, i)
        labels[start:end] = full[start:end]
    return full, labels


def final_turn_labels(tokenizer, messages: list[dict]) -> tuple[list[int], list[int], int]:
    """The whole chat's token ids, labels with only its final turn trained (an assistant turn,
    the last message: a preference pair's response), and the token where that turn starts."""
    if not messages or messages[-1]["role"] != "assistant":
        raise ChatTemplateError("the final turn to train on must be an assistant message at the end of the chat")
    full = chat_ids(tokenizer, messages, add_generation_prompt=False)
    last = len(messages) - 1
    start = _prefix_len(tokenizer, full, messages[:last], True, last)
    labels = [IGNORE_INDEX] * len(full)
    labels[start:] = full[start:]
    return full, labels, start


def tokenize_chat(tokenizer, messages: list[dict], max_length: int, overlong: Overlong = "truncate") -> TokenizedChat:
    """One SFT example from a whole conversation: `input_ids` and `labels` (IGNORE_INDEX where no
    loss). Longer than `max_length`: cut to it, or dropped (`overlong="drop"`); an example with no
    trained token left is dropped. Raises ChatTemplateError for a template that is not
    prefix-stable."""
    ids, labels = assistant_labels(tokenizer, messages)
    truncated = len(ids) > max_length
    if truncated:
        if overlong == "drop":
            return TokenizedChat([], [], truncated=False, dropped="overlong")
        ids, labels = ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return TokenizedChat([], [], truncated=truncated, dropped="no_assistant_tokens")
    return TokenizedChat(ids, labels, truncated=truncated)
