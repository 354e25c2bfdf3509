"""ArcticTraining's `OpenAISynth` (the OpenAI Batch API), on the `openai_batch` backend.

As theirs, an `openai.OpenAI` subclass: `client.chat.completions.create(...)`, `client.files`,
`client.batches` work, and so do their step-by-step methods (`batch_steps.py`). The client
keywords map onto arctic_ray's connection too: `api_key` (default: $OPENAI_API_KEY),
`base_url`, `timeout`. `save_to_credential_file` is accepted and unused: the key is never
written to disk. `file_expiry_seconds` is used by `upload_batch_task`; the backend deletes its
batch files itself once their answers are stored."""

from __future__ import annotations

from typing import Any

import openai

from arctic_ray.synth.backends.openai_batch.config import OpenAIBatchSynthConfig
from arctic_ray.synth.compat.batch_steps import BatchSteps
from arctic_ray.synth.compat.keys import key_env, load_credentials
from arctic_ray.synth.compat.openai_batch_client import OpenAIBatchClient


class OpenAISynth(openai.OpenAI, BatchSteps, OpenAIBatchClient):
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
        connection = {
            "base_url": kwargs.get("base_url"),
            "api_key_env": key_env(kwargs.get("api_key"), "OPENAI_API_KEY"),
        }
        if kwargs.get("timeout") is not None:
            connection["timeout_s"] = float(kwargs["timeout"])
        OpenAIBatchClient.__init__(self, connection, work_dir, batch_size, polling_interval)
        self.file_expiry_seconds = file_expiry_seconds
        openai.OpenAI.__init__(self, **{k: v for k, v in kwargs.items() if v is not None})
