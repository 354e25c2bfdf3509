"""Where OpenAI-protocol requests go: the OpenAI API (or any compatible `base_url`, vLLM's own
server included) or an Azure OpenAI resource. Clients are built inside the actors that use them,
with the client's own retries off: every retry goes through the project's budget instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from pydantic import Field

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.secrets import resolve_secret

if TYPE_CHECKING:
    import openai


class OpenAIConnection(StrictConfig):
    kind: Literal["openai", "azure"] = "openai"
    """`azure` talks to an Azure OpenAI resource (`endpoint`, `api_version`, deployment names)."""

    base_url: str | None = None
    """An OpenAI-compatible server; None means api.openai.com."""

    endpoint: str | None = None
    """Azure: https://<resource>.openai.azure.com"""

    api_version: str = "2024-10-21"
    """Azure: the REST API version."""

    api_key_env: str = "OPENAI_API_KEY"
    """The *name* of the environment variable (or secrets-file entry) holding the key."""

    secrets_file: Path | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    """Per request: a slower answer counts as a failed attempt and is retried."""

    @overload
    def client(self, sync: Literal[False] = False) -> openai.AsyncOpenAI: ...
    @overload
    def client(self, sync: Literal[True]) -> openai.OpenAI: ...

    def client(self, sync: bool = False) -> openai.OpenAI | openai.AsyncOpenAI:
        """An Azure client for `kind: azure` (a subclass of the OpenAI one)."""
        import openai

        key = resolve_secret(self.api_key_env, self.secrets_file).get_secret_value()
        common = {"api_key": key, "max_retries": 0, "timeout": self.timeout_s}
        if self.kind == "azure":
            if not self.endpoint:
                raise ValueError("an azure connection needs `endpoint`")
            cls = openai.AzureOpenAI if sync else openai.AsyncAzureOpenAI
            return cls(azure_endpoint=self.endpoint, api_version=self.api_version, **common)
        cls = openai.OpenAI if sync else openai.AsyncOpenAI
        return cls(base_url=self.base_url, **common)
