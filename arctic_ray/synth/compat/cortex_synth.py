"""ArcticTraining's `CortexSynth` (Snowflake Cortex COMPLETE), on the `cortex` backend: chats are
answered set-based by Ray actors holding their own Snowflake sessions, not one statement each.

`connection_params` are `snowflake.connector.connect` keywords: `account`, `user`, `password`
(default: $SNOWFLAKE_PASSWORD), `private_key_file` and `private_key_file_pwd`, `warehouse`,
`database`, `schema` (both needed: the backend stages prompts in a temporary table there),
`role`, `host`, `port`, `protocol`, `login_timeout`; `SnowflakeConnection` fields (`password_env`,
`secrets_file`, ...) may be given too. Actors connect with no browser, so only password and
key-pair authenticators work. A `password` (or `private_key_file_pwd`) handed over while Ray is
already running cannot reach Ray's workers without being written somewhere they can read: then
the chats are answered in this process (still set-based), and the secret stays in its memory
and environment only. `options` carries `temperature`, `top_p`, `max_tokens`."""

from __future__ import annotations

import time

from arctic_ray.data.snowflake_connection import SnowflakeConnection
from arctic_ray.synth.backends.cortex.config import CortexSynthConfig
from arctic_ray.synth.compat.base import BatchTaskClient
from arctic_ray.synth.compat.keys import RayAlreadyRunning, key_env

CONNECTOR_ALIASES = {"private_key_file": "private_key_path", "login_timeout": "login_timeout_s"}
AUTHENTICATORS = ("snowflake", "snowflake_jwt")
"""Password and key-pair: the ones an actor can use without a person at a browser."""
OPTION_KEYS = ("temperature", "top_p", "max_tokens")
DEFAULT_OPTIONS = {"temperature": 1, "top_p": 1}
CORTEX_MAX_TOKENS = 4096
"""COMPLETE's own default when options leave max_tokens out."""


class CortexSynth(BatchTaskClient[CortexSynthConfig]):
    def __init__(self, connection_params: dict, work_dir: str | None = None):
        try:
            connection, in_driver = _connection(connection_params, read_by_workers=True), False
        except RayAlreadyRunning:
            connection, in_driver = _connection(connection_params, read_by_workers=False), True
        super().__init__(CortexSynthConfig(connection=connection, in_driver=in_driver), work_dir)

    def add_chat_to_batch_task(
        self, task_name: str, model: str, messages: list[dict], options: dict | None = None
    ) -> None:
        options = dict(DEFAULT_OPTIONS if options is None else options)
        unknown = sorted(set(options) - set(OPTION_KEYS))
        if unknown:
            raise TypeError(f"options: {', '.join(unknown)} not supported (arctic_ray sends {', '.join(OPTION_KEYS)})")
        request = {
            "custom_id": self._new_custom_id(task_name),
            "model": model,
            "messages": messages,
            "options": options,
        }
        self.requests[task_name].append(request)

    def _chat(self, request: dict) -> tuple[str, dict, int]:
        sampling = {
            "temperature": 1.0,
            "top_p": 1.0,
            "max_tokens": CORTEX_MAX_TOKENS,
            "seed": None,
            **request["options"],
        }
        return request["model"], {"id": request["custom_id"], "messages": request["messages"], "sampling": sampling}, 1

    def _response(self, request: dict, answers: list[dict]) -> dict:
        (answer,) = answers
        usage = {k: int(answer["usage"][k]) for k in ("prompt_tokens", "completion_tokens")}
        output = {
            "choices": [{"messages": answer["completion"]}],
            "created": int(time.time()),
            "model": request["model"],
            "usage": {**usage, "total_tokens": sum(usage.values())},
        }
        return {"custom_id": request["custom_id"], "response": output}

    def _failed(self, request: dict, reason: str) -> dict:
        return {
            "custom_id": request["custom_id"],
            "response": {"choices": [], "model": request["model"]},
            "error": reason,
        }

    @staticmethod
    def extract_messages_from_responses(responses: list[dict]) -> list[dict]:
        return [
            {
                "custom_id": r["custom_id"],
                "choices": [{"content": x["messages"], "role": "assistant"} for x in r["response"]["choices"]],
            }
            | ({"error": r["error"]} if r.get("error") else {})
            for r in responses
        ]


def _connection(params: dict, read_by_workers: bool) -> SnowflakeConnection:
    params = dict(params)
    authenticator = str(params.pop("authenticator", "snowflake")).lower()
    if authenticator not in AUTHENTICATORS:
        raise ValueError(
            f"authenticator {authenticator!r} needs a person at a browser; "
            "Cortex runs in Ray actors: use a password or private_key_file"
        )
    fields = {
        CONNECTOR_ALIASES.get(k, k): v for k, v in params.items() if k not in ("password", "private_key_file_pwd")
    }
    if "private_key_file_pwd" in params:
        fields["private_key_passphrase_env"] = key_env(
            params["private_key_file_pwd"], "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", read_by_workers
        )
    if "password" in params or "password_env" not in fields:
        fields["password_env"] = key_env(params.get("password"), "SNOWFLAKE_PASSWORD", read_by_workers)
    return SnowflakeConnection.model_validate(fields)
