"""A causal language model as every method trains and exports it: the pad-id rule (one rule for
batches, the reward judge and training columns alike), a Hugging Face causal LM loaded on this
node in the training dtype, and its export in Hugging Face format with the tokenizer and chat
template, which transformers and vLLM load by path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.models.ref import ModelRef

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def pad_token_id(tokenizer: Any) -> int:
    """The id batches are padded with: the tokenizer's pad token, else its eos (Llama-style
    tokenizers have no pad); positions holding it are masked, so only its being a real id matters."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if isinstance(candidate, int):
            return candidate
    raise ArcticRayError(f"{getattr(tokenizer, 'name_or_path', 'the tokenizer')} has no pad and no eos token id")


def tokenizer_pad_id(model: ModelRef) -> int:
    """`pad_token_id` of the model's tokenizer, read from its files on this node."""
    from transformers import AutoTokenizer

    return pad_token_id(AutoTokenizer.from_pretrained(model.files()))


def train_dtype(use_gpu: bool) -> torch.dtype:
    """bf16 on a GPU, fp32 on a CPU (whose bf16 matmuls are slow and lossy)."""
    return torch.bfloat16 if use_gpu else torch.float32


def load_causal_lm(
    model: ModelRef, device: torch.device, attn_implementation: str = "sdpa", dtype: torch.dtype | None = None
) -> PreTrainedModel:
    """The model's weights on this node (checked against the planned identity), for training:
    no KV cache, on `device`."""
    from transformers import AutoModelForCausalLM

    dtype = dtype or train_dtype(device.type == "cuda")
    lm = AutoModelForCausalLM.from_pretrained(model.path(), dtype=dtype, attn_implementation=attn_implementation)
    lm.config.use_cache = False
    cast(torch.nn.Module, lm).to(device)  # (pyright cannot bind transformers' @wraps'd `to`)
    return lm


def export_causal_lm(lm: PreTrainedModel, base: ModelRef, path: str) -> None:
    """The trained model in Hugging Face format at `path`, with the base's tokenizer and chat
    template: what transformers and vLLM load."""
    from transformers import AutoTokenizer

    lm.save_pretrained(path, safe_serialization=True)
    AutoTokenizer.from_pretrained(base.files()).save_pretrained(path)
