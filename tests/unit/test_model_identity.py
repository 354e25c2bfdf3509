"""One model identity and store key: the weights are part of it (two fine-tunes with the same
config and tokenizer get different keys), a Hub snapshot is named by its commit, and an unchanged
model keeps its key across runs without its weights being hashed again."""

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from arctic_ray.models import identity as ident
from arctic_ray.synth.backend import target_for
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig


def _fine_tune(src: str, dst: Path) -> Path:
    """A copy of the model with one weight changed: same config.json, same tokenizer."""
    shutil.copytree(src, dst)
    (weights,) = dst.glob("*.safetensors")
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 1e-3 * torch.ones_like(tensors[name])
    save_file(tensors, weights)
    return dst


def test_same_config_and_tokenizer_but_other_weights_get_another_key(tiny_model, tmp_path):
    tuned = _fine_tune(tiny_model, tmp_path / "tuned")
    a, b = ident.model_identity(tiny_model, "m"), ident.model_identity(str(tuned), "m")
    keyed_by_path = ident.model_identity(tiny_model, tiny_model)["store_key"]  # target_for names a path by itself
    assert a["config_sha256"] == b["config_sha256"] and a["tokenizer_sha256"] == b["tokenizer_sha256"]
    assert a["weights_sha256"] != b["weights_sha256"] and a["store_key"] != b["store_key"]
    synth = VLLMSynthConfig()
    assert target_for(tiny_model, synth, "s").model_key == keyed_by_path != target_for(str(tuned), synth, "s").model_key


def test_an_unchanged_model_keeps_its_key_without_rehashing(tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    first = ident.model_identity(str(copy), "m")
    hashed = ident.files_hashed
    again = ident.model_identity(str(copy), "m")  # a second run: the digest comes from the cache
    assert again["store_key"] == first["store_key"] and ident.files_hashed == hashed
    (weights,) = copy.glob("*.safetensors")
    weights.write_bytes(weights.read_bytes())  # rewritten (new mtime), same content: hashed again, same key
    assert ident.model_identity(str(copy), "m")["store_key"] == first["store_key"] and ident.files_hashed == hashed + 1


def test_a_hub_snapshot_is_named_by_its_commit(tiny_model, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--org--tiny" / "snapshots" / commit
    shutil.copytree(tiny_model, snapshot)
    assert ident.model_identity(str(snapshot), "org/tiny")["weights_sha256"] == f"hf:{commit}"
