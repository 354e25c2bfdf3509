"""ArcticTraining's `OpenAISynth` (the OpenAI Batch API), on the `openai_batch` backend.

The client keywords their class passed to `openai.OpenAI` map onto arctic_ray's connection:
`api_key` (default: $OPENAI_API_KEY), `base_url`, `timeout`. `save_to_credential_file` and
`file_expiry_seconds` are accepted and unused: the key is never written to disk, and the backend
deletes its batch files itself once their answers are stored."""

from __future__ import annotations

from typing import Any

from arctic_ray.synth.compat.keys import key_env, load_credentials
from arctic_ray.synth.compat.openai_batch_client import OpenAIBatchClient
from arctic_ray.synth.backends.openai_batch.config import OpenAIBatchSynthConfig


class OpenAISynth(OpenAIBatchClient):
    chat_api_url = "/v1/chat/completions"
    config_class = OpenAIBatchSynthConfig
    client_keywords = ("api_key", "base_url", "timeout")

    def __init__(
        self,
        work_dir: str = "./batch_work_dir",
        credential_path: str | None = None,
        save_to_credential_file: str = "~/.arctic_synth/credentials/default.yaml",
        batch_size: int = 50_000,
        polling_interval: int = 30,
        file_expiry_seconds: int = 2592000,
        **kwargs: Any,
    ):
        if credential_path is not None:
            kwargs = load_credentials(credential_path)
        self._check_client_keywords(kwargs)
        connection = {"base_url": kwargs.get("base_url"), "api_key_env": key_env(kwargs.get("api_key"), "OPENAI_API_KEY")}
        if kwargs.get("timeout") is not None:
            connection["timeout_s"] = float(kwargs["timeout"])
        super().__init__(connection, work_dir, batch_size, polling_interval)
