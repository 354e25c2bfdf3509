"""Tiny Llama-style causal LMs for tests and laptop runs: random weights from a config, a
byte-level BPE tokenizer trained locally, and a ChatML chat template. Deterministic for a seed,
so every test process builds the same model."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.models.cache import built_once

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Enough English for a BPE that splits ordinary text into short, sensible pieces.
_CORPUS = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Explain how photosynthesis works. Plants turn light, water and carbon dioxide into sugar and oxygen.
Write a short poem about the sea. The waves roll in and out, the gulls cry above the shore.
List three facts about the moon. It orbits the Earth, it has no air, and it causes the tides.
What is the capital of France? Paris is the capital of France, and Berlin is the capital of Germany.
Give me tips for learning to cook: start simple, taste as you go, keep your knives sharp.
Summarize the history of computers in a few sentences. Machines grew from rooms to pockets.
How do I sort a list in Python? Use sorted(items) or items.sort(), with key= for custom order.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000. Punctuation: , . ; : ! ? ' " ( ) [ ] { } - + * / = < >
user assistant system You are a helpful assistant. Thank you! Sure, here is an answer.
"""


def tiny_tokenizer(vocab_size: int = 512):
    """The byte-level BPE trained on `_CORPUS`, with the ChatML template (shared by every tiny model)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def tiny_llama_config(
    tokenizer, hidden_size: int, num_layers: int, num_heads: int, num_kv_heads: int, max_positions: int, **extra
):
    """The Llama config every tiny Llama shares (the causal LM, the reward model), on `tokenizer`."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
        **extra,
    )


def build_tiny_model(
    path: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    num_kv_heads: int = 1,
    vocab_size: int = 512,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny Llama (weights, config, tokenizer, chat template) to `path`.

    vLLM's CPU attention supports head sizes of 32 and up: keep hidden_size/num_heads >= 32."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = tiny_tokenizer(vocab_size)
    config = tiny_llama_config(
        tokenizer, hidden_size, num_layers, num_heads, num_kv_heads, max_positions, tie_word_embeddings=False
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_model_path(num_layers: int = 4, seed: int = 0) -> Path:
    """A cached tiny model, built on first use. Four layers by default: an EAGLE-3 drafter reads
    three distinct ones."""

    def build(path: Path) -> None:
        build_tiny_model(path, num_layers=num_layers, seed=seed)

    return built_once(f"tiny-llama-l{num_layers}-s{seed}", build, builder="tiny", num_layers=num_layers, seed=seed)
