"""Which base model a speculator was trained for: its name and a hash of its config and
tokenizer files, recorded in every export so a drafter is never served against another base."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

IDENTITY_KEY = "arctic_ray_base_model"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json")


def _hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def base_identity(model_path: str, name: str) -> dict:
    path = Path(model_path)
    return {
        "name": name,
        "architectures": json.loads((path / "config.json").read_text()).get("architectures", []),
        "path": str(path),
        "config_sha256": _hash_files([path / "config.json"]),
        "tokenizer_sha256": _hash_files([path / f for f in TOKENIZER_FILES if (path / f).is_file()]),
    }
