"""Where built and converted models live ($ARCTIC_RAY_CACHE, else ~/.cache/arctic_ray), and
how a built-in model gets there: built once into a staging directory that is renamed into place,
so a crash never leaves half a model and a second use is instant."""

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("ARCTIC_RAY_CACHE") or Path.home() / ".cache" / "arctic_ray"
    path = Path(root) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def built_once(name: str, build: Callable[[Path], object], **settings) -> Path:
    """`cache_dir()/name`, made by `build(directory)` on first use; `settings` are recorded
    beside the model (arctic_ray.json)."""
    target = cache_dir() / name
    if (target / "config.json").is_file():
        return target
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
    build(staging)
    (staging / "arctic_ray.json").write_text(json.dumps(settings))
    staging.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
