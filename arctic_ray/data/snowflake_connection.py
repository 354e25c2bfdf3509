"""Where Snowflake statements go: an account, a user and a secret *by name* (a password, or a
private key file for key-pair auth), plus the warehouse / database / schema / role a session
starts in. `host`, `port` and `protocol` point the connector elsewhere (a local fakesnow server).

The secret is resolved inside the process that connects (a Ray actor), handed to the connector
and nowhere else: not logged, not stored, not in an error message, and the connector is told not
to cache credentials on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.secrets import resolve_secret


class SnowflakeConnectError(ArcticRayError):
    pass


class SnowflakeConnection(StrictConfig):
    model_config = ConfigDict(**{**StrictConfig.model_config, "populate_by_name": True})

    account: str
    """Account identifier (`orgname-account`)."""

    user: str
    password_env: str | None = "SNOWFLAKE_PASSWORD"
    """The *name* of the environment variable (or secrets-file entry) holding the password."""

    private_key_path: Path | None = None
    """A PEM private key for key-pair auth; used instead of the password when set."""

    private_key_passphrase_env: str | None = None
    """The *name* of the secret holding the private key's passphrase (if it has one)."""

    secrets_file: Path | None = None
    warehouse: str | None = None
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    """The session's schema (`schema:` in a recipe)."""

    role: str | None = None
    host: str | None = None
    """Another endpoint than `<account>.snowflakecomputing.com` (a local fakesnow server)."""

    port: int | None = None
    protocol: Literal["https", "http"] = "https"
    login_timeout_s: int = Field(default=60, gt=0)
    query_tag: str = "arctic_ray"
    """Tags every statement, so Snowflake's query history and cost views can attribute the run."""

    @model_validator(mode="after")
    def _one_credential(self) -> SnowflakeConnection:
        if not self.private_key_path and not self.password_env:
            raise ValueError("a Snowflake connection needs `password_env` or `private_key_path`")
        return self

    def connect(self):
        """An open `snowflake.connector` connection using qmark binding (server-side binds)."""
        import snowflake.connector

        credentials = self._credentials()
        optional = {
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": self.schema_,
            "role": self.role,
            "host": self.host,
            "port": self.port,
        }
        try:
            return snowflake.connector.connect(
                account=self.account,
                user=self.user,
                protocol=self.protocol,
                login_timeout=self.login_timeout_s,
                paramstyle="qmark",
                session_parameters={"QUERY_TAG": self.query_tag},
                client_store_temporary_credential=False,
                client_request_mfa_token=False,
                **{k: v for k, v in optional.items() if v is not None},
                **credentials,
            )
        except Exception as exc:  # the connector's own error, with any secret cut out
            secrets = [v for k, v in credentials.items() if k != "private_key_file"]
            reason = scrub(str(exc), secrets)
            raise SnowflakeConnectError(
                f"cannot connect to Snowflake account {self.account} as {self.user}: {reason}"
            ) from None

    def _credentials(self) -> dict[str, str]:
        """The connector's credential keywords, each secret looked up by name here and now."""
        if not self.private_key_path:
            password_env = self.password_env or ""  # set whenever there is no key (the validator says so)
            return {"password": resolve_secret(password_env, self.secrets_file).get_secret_value()}
        credentials = {"private_key_file": str(self.private_key_path)}
        if self.private_key_passphrase_env:
            credentials["private_key_file_pwd"] = resolve_secret(
                self.private_key_passphrase_env, self.secrets_file
            ).get_secret_value()
        return credentials


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
