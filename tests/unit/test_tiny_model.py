"""The tiny built-in model: it loads and generates, a seed fixes its weights, and names resolve
(built-in, path, Hugging Face cache) with the model built once."""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from arctic_ray.models.resolve import resolve_model
from arctic_ray.models.tiny import build_tiny_model


def test_tiny_model_loads_and_generates(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    text = "Explain photosynthesis in simple terms."
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level BPE: lossless
    ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"]
    assert tok.decode(ids[0]).endswith("<|im_start|>assistant\n")
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    # vLLM's CPU attention needs head size >= 32
    assert model.config.hidden_size // model.config.num_attention_heads >= 32


def test_same_seed_same_weights(tmp_path):
    a = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "a", seed=3))
    b = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "b", seed=3))
    c = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "c", seed=4))
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=False):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=False))


def test_resolve_builds_once_and_passes_paths_through(tiny_model, hub_model, tmp_path):
    from arctic_ray.models.resolve import ModelNotFoundError

    assert resolve_model("tiny") == tiny_model
    assert resolve_model(tiny_model) == tiny_model  # a local directory as it is
    # a Hugging Face name resolves through the HF cache (offline here): its snapshot, or a clear error
    assert Path(resolve_model(hub_model)).parent.name == "snapshots"
    with pytest.raises(ModelNotFoundError, match="'some-org/some-model': not in this node's Hugging Face cache"):
        resolve_model("some-org/some-model")
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        resolve_model(str(empty))
    except FileNotFoundError as err:
        assert "no config.json" in str(err)
    else:
        raise AssertionError("a directory without config.json must be refused")
