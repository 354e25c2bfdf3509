"""ArcticTraining's `AzureOpenAISynth` (the Azure OpenAI Batch API), on the
`azure_openai_batch` backend; a chat's `model` is the deployment name.

The client keywords their class passed to `openai.AzureOpenAI` map onto arctic_ray's connection,
with the SDK's environment defaults: `api_key` ($AZURE_OPENAI_API_KEY), `azure_endpoint`
($AZURE_OPENAI_ENDPOINT), `api_version` ($OPENAI_API_VERSION), `timeout`. As in theirs, a
client-wide `azure_deployment` is refused. As theirs, an `openai.AzureOpenAI` subclass with
their step-by-step methods (see `openai_synth.py`)."""

from __future__ import annotations

import os
from typing import Any

import openai

from arctic_ray.synth.backends.openai_batch.config import AzureOpenAIBatchSynthConfig
from arctic_ray.synth.compat.batch_steps import BatchSteps
from arctic_ray.synth.compat.keys import key_env, load_credentials
from arctic_ray.synth.compat.openai_batch_client import OpenAIBatchClient


class AzureOpenAISynth(openai.AzureOpenAI, BatchSteps, OpenAIBatchClient):
    chat_api_url = "/chat/completions"
    config_class = AzureOpenAIBatchSynthConfig
    client_keywords = ("api_key", "azure_endpoint", "api_version", "timeout", "azure_deployment")

    def __init__(
        self,
        work_dir: str = "./batch_work_dir",
        credential_path: str | None = None,
        save_to_credential_file: str = "~/.arctic_synth/credentials/default.yaml",
        batch_size: int = 100_000,
        polling_interval: int = 30,
        file_expiry_seconds: int = 2592000,
        **kwargs: Any,
    ):
        if credential_path is not None:
            kwargs = load_credentials(credential_path)
        if kwargs.get("azure_deployment") is not None:
            raise ValueError("Do not set client-wise azure_deployment: name the deployment as each chat's `model`.")
        self._check_client_keywords(kwargs)
        endpoint = kwargs.get("azure_endpoint") or os.environ.get("AZURE_OPENAI_ENDPOINT")
        if not endpoint:
            raise ValueError("AzureOpenAISynth needs azure_endpoint (or $AZURE_OPENAI_ENDPOINT)")
        connection = {"endpoint": endpoint, "api_key_env": key_env(kwargs.get("api_key"), "AZURE_OPENAI_API_KEY")}
        api_version = kwargs.get("api_version") or os.environ.get("OPENAI_API_VERSION")
        if api_version:
            connection["api_version"] = api_version
        if kwargs.get("timeout") is not None:
            connection["timeout_s"] = float(kwargs["timeout"])
        OpenAIBatchClient.__init__(self, connection, work_dir, batch_size, polling_interval)
        self.file_expiry_seconds = file_expiry_seconds
        client = {k: v for k, v in kwargs.items() if v is not None}
        client.setdefault("azure_endpoint", endpoint)
        if api_version:
            client.setdefault("api_version", api_version)
        openai.AzureOpenAI.__init__(self, **client)
