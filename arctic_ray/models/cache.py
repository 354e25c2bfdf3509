"""Where built and converted models live: $ARCTIC_RAY_CACHE, else ~/.cache/arctic_ray."""

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("ARCTIC_RAY_CACHE") or Path.home() / ".cache" / "arctic_ray"
    path = Path(root) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
