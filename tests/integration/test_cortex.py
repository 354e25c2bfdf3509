"""The Cortex backend against a local Snowflake (fakesnow's server, the real connector, Cortex as
a DuckDB UDF): set-based answers, a refused prompt failing alone, answers kept in the store, the
spend limit, no secret anywhere, and prompts read from a table."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest
import ray.data

from arctic_ray.data.snowflake_connection import SnowflakeConnectError
from arctic_ray.data.snowflake_table import SnowflakePromptTable
from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.cortex.config import CortexSynthConfig
from arctic_ray.synth.backends.cortex.session import CortexSession
from arctic_ray.synth.backends.cortex.stage import CortexStage
from arctic_ray.synth.keyed import generate_stored, row_key
from arctic_ray.synth.sent_log import SentLog
from tests.support.fake_snowflake import PASSWORD_ENV, POISON, REFUSAL, UNAVAILABLE_MODEL, fake_answer

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")  # fakesnow's own

MODEL = "mistral-large2"
SECRET = "pw-7d1c0e-never-written"


def requests(n: int, poisoned=()) -> list[dict]:
    rows = []
    for i in range(n):
        content = f"question {i} about snow and ice" + (f" {POISON}" if i in poisoned else "")
        messages = [{"role": "system", "content": "be brief"}] if i % 3 == 0 else []
        row = {"id": f"r{i}", "messages": messages + [{"role": "user", "content": content}], "topic": "snow"}
        if i % 4 == 1:
            row["sampling"] = {"max_tokens": 3}
        rows.append(row)
    return rows


def target(store: Path) -> Target:
    return Target(model=MODEL, model_name=MODEL, model_key=MODEL, store=str(store))


def backend(server, **fields) -> CortexSynthConfig:
    defaults = dict(
        connection=server.connection(), chunk_rows=16, max_chunks_in_flight=2, retries=1, retry_backoff_s=0.0
    )
    return CortexSynthConfig(**{**defaults, **fields})


def expected(row: dict, default_max_tokens: int) -> dict:
    max_tokens = (row.get("sampling") or {}).get("max_tokens", default_max_tokens)
    answer = fake_answer(MODEL, row["messages"], {"max_tokens": max_tokens})
    usage = {k: answer["usage"][k] for k in ("prompt_tokens", "completion_tokens")}
    finish = "length" if usage["completion_tokens"] >= max_tokens else "stop"
    return {"completion": answer["choices"][0]["messages"], "usage": usage, "finish_reason": finish}


def files_holding(secret: str, *roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for path in Path(root).rglob("*") if Path(root).exists() else ():
            if path.is_file() and not path.is_symlink():
                try:
                    if secret.encode() in path.read_bytes():
                        hits.append(str(path))
                except OSError:
                    pass
    return hits


def test_cortex_answers_chunks_set_based_and_a_refused_prompt_fails_alone(ray_local, snowflake_server, tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"{PASSWORD_ENV}={SECRET}\n")
    synth = backend(
        snowflake_server, connection=snowflake_server.connection(secrets_file=secrets), sampling={"max_tokens": 5}
    )
    poisoned = {5, 6, 40}  # two in the first chunk (its halves are split), one alone in the third
    rows = requests(96, poisoned)
    before = len(snowflake_server.statements)
    generation = generate_stored(ray.data.from_items(rows, override_num_blocks=1), synth, target(tmp_path / "store"))
    out = {r["id"]: r for r in generation.rows.take_all()}
    sent = snowflake_server.statements[before:]

    assert generation.sent == 96 and len(out) == 96
    for row in rows:
        got = out[row["id"]]
        kept = (got["id"], got["messages"], got["topic"], got["backend"], got["model"])
        assert kept == (row["id"], row["messages"], "snow", "cortex", MODEL)
        assert got["key"] and got["sampling"]["max_tokens"] == (row.get("sampling") or {}).get("max_tokens", 5)
        if int(row["id"][1:]) in poisoned:
            assert got["error"].startswith("cortex statement failed") and REFUSAL in got["error"], got["error"]
            assert (got["completion"], got["finish_reason"]) == ("", "error")
        else:
            assert got["error"] == ""
            assert {k: got[k] for k in ("completion", "usage", "finish_reason")} == expected(row, 5)

    chunks = 96 // 16
    assert sum("TRY_COMPLETE" in s for s in sent) == chunks  # one statement answers a whole chunk
    # The rows it left empty learn their reasons: COMPLETE over {5, 6} fails and splits at once,
    # then each single row is tried twice (retries=1); {40} alone twice: 1 + 2 + 2 + 2.
    assert sum("CORTEX.COMPLETE(" in s for s in sent) == 7
    assert len(sent) < len(rows) / 3, sent
    assert {r["key"] for r in out.values()} <= SentLog(tmp_path / "store").keys()

    # A rerun asks the store first: nothing answered before is sent again.
    clean = [r for r in rows if int(r["id"][1:]) not in poisoned]
    before = len(snowflake_server.statements)
    rerun = generate_stored(ray.data.from_items(clean, override_num_blocks=1), synth, target(tmp_path / "store"))
    assert (rerun.sent, rerun.reused) == (0, len(clean))
    assert sorted(r["completion"] for r in rerun.rows.take_all()) == sorted(out[r["id"]]["completion"] for r in clean)
    assert len(snowflake_server.statements) == before

    ray_logs = Path(ray_local._private.worker._global_node.get_session_dir_path())
    assert files_holding(SECRET, tmp_path / "store", ray_logs) == []


def keyed(rows: list[dict], synth: CortexSynthConfig) -> list[dict]:
    """Rows as a backend receives them (what `generate_stored` adds), for running a stage in-process."""
    for row in rows:
        row["sampling"] = {**synth.sampling.model_dump(), **(row.get("sampling") or {})}
        row["key"] = row_key(synth, row, MODEL)
    return rows


def test_spend_limit_stops_new_chunks(ray_local, snowflake_server, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    # $1 per completion token: a chunk of 4 rows x 4 tokens reserves, and costs, $16.
    synth = backend(
        snowflake_server,
        chunk_rows=4,
        max_chunks_in_flight=1,
        pricing={"output_per_million": 1e6},
        spend_limit=40.0,
        sampling={"max_tokens": 4},
    )
    rows = keyed(
        [{"id": f"s{i}", "messages": [{"role": "user", "content": f"a long enough question {i}"}]} for i in range(16)],
        synth,
    )
    stage = CortexStage(
        synth, target(tmp_path / "store"), budget=synth.run_budget()
    )  # an actor's work, in this process
    before = len(snowflake_server.statements)
    out = stage(pa.Table.from_pylist(rows)).to_pylist()
    assert [bool(r["error"]) for r in out] == [False] * 8 + [True] * 8
    assert all(r["error"].startswith("spend_limit reached") for r in out[8:])
    assert sum("TRY_COMPLETE" in s for s in snowflake_server.statements[before:]) == 2  # refused chunks never went


def test_a_statement_fault_fails_its_chunk_in_few_statements(snowflake_server, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    session = CortexSession(snowflake_server.connection(), UNAVAILABLE_MODEL, retries=1, backoff_s=0.0)
    rows = keyed(requests(16), backend(snowflake_server))
    before = len(snowflake_server.statements)
    answers = session.answer(rows)
    session.close()
    assert len(set(answers)) == 1 and "is unavailable" in answers[0]  # one reason, no query id in it
    # Halving stops once a first half fails whole with its parent's error: 2 tries x 5 levels.
    assert sum("CORTEX." in s for s in snowflake_server.statements[before:]) == 10


def test_no_secret_in_files_logs_or_errors(snowflake_server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    caplog.set_level("DEBUG")
    synth = backend(snowflake_server, max_chunks_in_flight=1, chunk_rows=4)
    rows = keyed(requests(6, poisoned={2}), synth)
    stage = CortexStage(synth, target(tmp_path / "store"))
    out = stage(pa.Table.from_pylist(rows)).to_pylist()
    assert [bool(r["error"]) for r in out] == [False, False, True, False, False, False]

    with pytest.raises(SnowflakeConnectError) as dead:
        snowflake_server.connection(port=1, login_timeout_s=2).connect()
    home_cache = Path.home() / ".cache" / "snowflake"
    assert files_holding(SECRET, tmp_path, home_cache) == []
    assert not any(SECRET in r["error"] for r in out)
    assert SECRET not in str(dead.value) and SECRET not in caplog.text
    assert os.environ[PASSWORD_ENV] == SECRET  # read by name, where it is used


def test_key_pair_auth_reads_its_passphrase_by_name(snowflake_server, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    locked = serialization.BestAvailableEncryption(SECRET.encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, locked)
    (tmp_path / "key.p8").write_bytes(pem)
    monkeypatch.setenv("ARCTIC_RAY_TEST_KEY_PASSPHRASE", SECRET)
    connection = snowflake_server.connection(
        password_env=None,
        private_key_path=tmp_path / "key.p8",
        private_key_passphrase_env="ARCTIC_RAY_TEST_KEY_PASSPHRASE",
    )
    conn = connection.connect()
    assert conn.cursor().execute("SELECT 1").fetchall() == [(1,)]
    conn.close()
    assert files_holding(SECRET, tmp_path) == []


def test_prompts_are_read_from_a_table(snowflake_server, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    conn = snowflake_server.connection().connect()
    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE CHATS_TEXT (ID INTEGER, MESSAGES VARCHAR)")
    cur.executemany(
        "INSERT INTO CHATS_TEXT (ID, MESSAGES) VALUES (?, ?)",
        [(1, '[{"role": "user", "content": "hi"}]'), (2, "not json"), (3, '[{"role": "user", "content": ""}]')],
    )
    cur.execute("CREATE OR REPLACE TABLE CHATS AS SELECT ID, TRY_PARSE_JSON(MESSAGES) AS MESSAGES FROM CHATS_TEXT")
    cur.execute("CREATE OR REPLACE TABLE QUESTIONS (QID VARCHAR, PROMPT VARCHAR)")
    cur.executemany("INSERT INTO QUESTIONS (QID, PROMPT) VALUES (?, ?)", [("a", "why is snow white?"), ("b", None)])
    conn.close()

    chats = SnowflakePromptTable(
        connection=snowflake_server.connection(), table="CHATS_TEXT", messages_column="MESSAGES"
    ).read()
    assert chats.rows == [{"id": "1", "messages": [{"role": "user", "content": "hi"}], "response": ""}]
    assert [r["id"] for r in chats.rejects] == [2, 3] and "not JSON" in chats.rejects[0]["reason"]
    variant = SnowflakePromptTable(
        connection=snowflake_server.connection(), table="ARCTIC.SYNTH.CHATS", messages_column="MESSAGES", limit=1
    )
    assert variant.read().rows == chats.rows

    questions = SnowflakePromptTable(
        connection=snowflake_server.connection(),
        table="QUESTIONS",
        id_column="QID",
        prompt_column="PROMPT",
        system_prompt="be brief",
    ).read()
    asked = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "why is snow white?"}]
    assert questions.rows == [{"id": "a", "messages": asked, "response": ""}]
    assert [r["id"] for r in questions.rejects] == ["b"]
    with pytest.raises(ValueError, match="table"):
        SnowflakePromptTable(connection=snowflake_server.connection(), table="x; DROP TABLE y", prompt_column="P")
