"""Secrets (API keys, passwords) come from the environment or a secrets file, by name.

Recipes hold only the *name* of a secret; the value is looked up where it is used (inside the
Ray actor that sends requests, on whichever node it runs), held as a pydantic `SecretStr`, and
never written anywhere: not into logs, outputs, manifests, exception messages, or `runtime_env`
(which the Ray dashboard shows). A secrets file is `NAME=value` lines (dotenv style, `#`
comments) or a JSON object, readable only by its owner on a shared or per-node path."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import SecretStr

from arctic_ray.core.errors import ArcticRayError

SECRETS_FILE_ENV = "ARCTIC_RAY_SECRETS_FILE"


class MissingSecretError(ArcticRayError):
    pass


def _from_file(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def resolve_secret(name: str, secrets_file: str | Path | None = None) -> SecretStr:
    """The value of secret `name`: the environment first, then `secrets_file` (or the file named
    by $ARCTIC_RAY_SECRETS_FILE). The error names where it looked, never a value."""
    if os.environ.get(name):
        return SecretStr(os.environ[name])
    path = secrets_file or os.environ.get(SECRETS_FILE_ENV)
    if path and Path(path).is_file():
        value = _from_file(Path(path)).get(name)
        if value:
            return SecretStr(value)
    where = (
        f"the environment or the secrets file {path}"
        if path
        else f"the environment (or a secrets file named by ${SECRETS_FILE_ENV})"
    )
    raise MissingSecretError(f"secret {name} is not set: looked in {where}")
