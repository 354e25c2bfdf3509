"""The one identity of a model, and the one key the generation store knows it by.

A model is its name plus what it is made of: a digest of its weights (the Hub snapshot's commit
hash when it comes from the Hugging Face cache, otherwise a SHA-256 over the weight files), of its
config and of its tokenizer. Two fine-tunes that share `config.json` and tokenizer therefore get
different keys, and stored answers of one are never served for the other. Hashing gigabytes of
weights each run would cost minutes, so a weight file's digest is kept in the cache directory
under its path, size and modification time, and recomputed only when one of them changes.

Every export records the identity of its base (`IDENTITY_KEY` in its config), so a drafter is
never served against another base."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

IDENTITY_KEY = "arctic_ray_base_model"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_SNAPSHOT = re.compile(r"/models--[^/]+/snapshots/([0-9a-f]{40})/?$")
files_hashed = 0
"""Weight files hashed in this process (the digest cache's misses)."""


def _digest_cache() -> Path:
    root = os.environ.get("ARCTIC_RAY_CACHE") or Path.home() / ".cache" / "arctic_ray"
    return Path(root) / "weight_digests.json"


def _hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _file_digest(path: Path, cache: dict) -> str:
    global files_hashed
    stat = path.stat()
    entry = cache.get(str(path))
    if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
        return entry["sha256"]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            h.update(chunk)
    files_hashed += 1
    cache[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": h.hexdigest()}
    return cache[str(path)]["sha256"]


def weights_digest(path: Path) -> str:
    """The snapshot's commit hash for a model in the HF cache; else a SHA-256 over its weight
    files' digests (each cached by path, size and mtime)."""
    resolved = path.resolve()
    snapshot = _SNAPSHOT.search(str(path).rstrip("/") + "/") or _SNAPSHOT.search(str(resolved) + "/")
    if snapshot:
        return f"hf:{snapshot.group(1)}"
    files = sorted(f for f in resolved.rglob("*") if f.is_file() and f.suffix in WEIGHT_SUFFIXES)
    cache_file = _digest_cache()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    before = dict(cache)
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(resolved).as_posix().encode())
        h.update(_file_digest(f, cache).encode())
    if cache != before:  # written under a temporary name, so a reader never sees half a file
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_file)
    return h.hexdigest()


def model_identity(model_path: str, name: str) -> dict:
    """Name, architectures, where it was loaded from, and the digests of weights, config and
    tokenizer; `store_key` is the model's part of every generation store key."""
    path = Path(model_path)
    identity = {
        "name": name,
        "architectures": json.loads((path / "config.json").read_text()).get("architectures", []),
        "path": str(path),
        "weights_sha256": weights_digest(path),
        "config_sha256": _hash_files([path / "config.json"]),
        "tokenizer_sha256": _hash_files([path / f for f in TOKENIZER_FILES if (path / f).is_file()]),
    }
    parts = (name, identity["weights_sha256"], identity["config_sha256"], identity["tokenizer_sha256"])
    identity["store_key"] = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return identity
