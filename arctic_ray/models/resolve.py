"""Turn a recipe's model name into a local path, on the node that loads it.

A built-in name (`tiny`, `smollm2-135m-instruct`, ...) is built or converted on first use into
this node's cache, deterministically: every node gets the same content, which `checked_model`
verifies against the identity the driver computed. A Hugging Face name resolves through the
standard HF cache (`huggingface_hub`, honouring `HF_HOME` and `HF_HUB_OFFLINE`), downloading
what is missing when the Hub is reachable. Anything else is a local directory (on shared storage
when other nodes load it). The driver never hands its own paths to actors on other nodes: it
sends the name and the expected identity; the actor resolves and checks."""

from __future__ import annotations

from pathlib import Path

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.registry import lookup, names, register
from arctic_ray.models.identity import TOKENIZER_FILES, model_identity
from arctic_ray.models.smollm2 import NAME as SMOLLM2
from arctic_ray.models.smollm2 import smollm2_path
from arctic_ray.models.smollm2_long import NAME as SMOLLM2_LONG
from arctic_ray.models.smollm2_long import smollm2_long_path
from arctic_ray.models.tiny import tiny_model_path
from arctic_ray.models.tiny_moe import NAME as TINY_MOE
from arctic_ray.models.tiny_moe import tiny_moe_path
from arctic_ray.models.tiny_reward import NAME as TINY_REWARD
from arctic_ray.models.tiny_reward import tiny_reward_model_path

register("model", "tiny", tiny_model_path)
register("model", "tiny2", lambda: tiny_model_path(num_layers=2))
register("model", SMOLLM2, smollm2_path)
register("model", SMOLLM2_LONG, smollm2_long_path)
register("model", TINY_REWARD, tiny_reward_model_path)
register("model", TINY_MOE, tiny_moe_path)

# What the driver needs of a Hub model (identity, tokenizer, config), without its weights.
_LIGHT_FILES = [
    "config.json",
    "generation_config.json",
    *TOKENIZER_FILES,
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
]


class ModelNotFoundError(ArcticRayError):
    pass


class ModelMismatchError(ArcticRayError):
    pass


def builtin_models() -> list[str]:
    return names("model")


def _hub(name: str, light: bool) -> str:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    from huggingface_hub.utils import HFValidationError

    try:
        return snapshot_download(name, allow_patterns=_LIGHT_FILES if light else None)
    except HFValidationError:
        raise ModelNotFoundError(
            f"model {name!r}: not a built-in name ({', '.join(builtin_models())}), "
            "a local directory or a Hugging Face name"
        ) from None
    except (LocalEntryNotFoundError, OSError) as err:
        raise ModelNotFoundError(
            f"model {name!r}: not in this node's Hugging Face cache (HF_HOME) and the Hub could not be reached "
            f"({type(err).__name__}); put it in the cache (huggingface-cli download {name}) or give a local path"
        ) from None


def resolve_model(name: str) -> str:
    """The model's local directory, complete (weights included), on this node."""
    if name in builtin_models():
        return str(lookup("model", name)())
    path = Path(name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model path {name} has no config.json: not a Hugging Face model")
        return name
    if name.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"model path {name} does not exist on this node")
    return _hub(name, light=False)


def model_files(name: str) -> str:
    """A local directory with the model's config and tokenizer: for a Hub model, only those
    files (a driver reads its identity and tokenizer without fetching the weights)."""
    if name in builtin_models() or Path(name).exists() or name.startswith(("/", ".", "~")):
        return resolve_model(name)
    return _hub(name, light=True)


def checked_model(name: str, expected_key: str) -> str:
    """`resolve_model(name)` on this node, checked to be the model the run was planned with."""
    path = resolve_model(name)
    found = model_identity(path, name)["store_key"]
    if found != expected_key:
        raise ModelMismatchError(
            f"model {name!r} resolved to {path} on this node, whose content (key {found}) is not the one the "
            f"driver planned with (key {expected_key}): a different build, snapshot or file on this node"
        )
    return path
