"""Keys handed to a constructor, as their API takes them, reach arctic_ray's backends the way
every key does: by the name of an environment variable (`secrets.py`). A key not already in the
environment under the name its SDK reads is put into this process's environment under a name of
its own. It is never written to disk: ArcticTraining saved constructor keywords, key included, to
~/.arctic_synth/credentials; this does not."""

from __future__ import annotations

import os
import uuid

import yaml

from arctic_ray.core.secrets import SECRETS_FILE_ENV


class RayAlreadyRunning(ValueError):
    """A secret handed over too late for Ray's workers to see it."""


def key_env(api_key: str | None, default_env: str, read_by_workers: bool = False) -> str:
    """The name under which `api_key` (None: whatever `default_env` holds) can be resolved.
    `read_by_workers`: the backend resolves it in Ray workers, which see this process's
    environment only as it was when Ray started here."""
    if api_key is None or os.environ.get(default_env) == api_key:
        return default_env
    if read_by_workers:
        import ray

        if ray.is_initialized():
            raise RayAlreadyRunning(
                f"Ray is already running, so its workers cannot see a secret handed to this constructor: "
                f"set ${default_env} before Ray starts, "
                f"or keep it in a secrets file (`secrets_file`, or ${SECRETS_FILE_ENV})"
            )
    name = f"ARCTIC_SYNTH_KEY_{uuid.uuid4().hex[:12].upper()}"
    os.environ[name] = api_key
    return name


def load_credentials(credential_path: str) -> dict:
    """Their credential file: a YAML mapping of the client's keywords."""
    with open(os.path.expanduser(credential_path), encoding="utf-8") as f:
        return yaml.safe_load(f) or {}
