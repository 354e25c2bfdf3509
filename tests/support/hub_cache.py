"""A model in the Hugging Face cache layout (`models--org--name/snapshots/<commit>/`, `refs/main`)
under an HF_HOME, as `huggingface-cli download` leaves it: what a hub-style name resolves to
offline (`HF_HUB_OFFLINE=1`)."""

from __future__ import annotations

import shutil
from pathlib import Path

HUB_NAME = "arctic-test/tiny"
COMMIT = "3f1c2a9e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"


def put_in_hub_cache(model_dir: str, hf_home: Path, name: str = HUB_NAME, commit: str = COMMIT) -> Path:
    repo = hf_home / "hub" / f"models--{name.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    if not snapshot.is_dir():
        shutil.copytree(model_dir, snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
    return snapshot
