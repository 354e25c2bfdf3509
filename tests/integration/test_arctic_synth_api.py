"""ArcticTraining's synth API on arctic_ray: the blog's example (a loop adding one chat per name
to a task, executing the task, extracting the messages) runs as ArcticTraining users write it,
with only the import changed, on each backend; executing the task again sends nothing."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from tests.support.fake_batch_server import FakeBatchServer, Faults
from tests.support.fake_snowflake import PASSWORD_ENV, fake_answer

NAMES = ["Alice", "Bob", "Charlie"]


def greeting(name: str) -> list[dict]:
    return [{"role": "user", "content": f"Write a short greeting for {name}."}]


def assert_one_reply_per_chat(extracted):
    assert [m["custom_id"] for m in extracted] == [f"greetings_{i}" for i in range(len(NAMES))]
    for message in extracted:
        (choice,) = message["choices"]
        assert choice["role"] == "assistant" and isinstance(choice["content"], str) and choice["content"]


def test_import_is_light_and_names_the_five_classes():
    code = (
        "import sys, arctic_ray.synth as s; print(sorted(s.__all__)); "
        "print(any(m in sys.modules for m in ('vllm', 'openai', 'ray.data')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert (
        out[0] == "['AzureOpenAISynth', 'CortexSynth', 'MultiReplicaVllmSynth', 'OpenAISynth', 'VllmSynth']"
        and out[1] == "False"
    )


def test_vllm_sampling_params_travel_to_the_engine_and_only_non_json_ones_are_refused(tiny_model):
    from vllm import SamplingParams

    from arctic_ray.synth import VllmSynth

    with pytest.raises(ValueError, match="logits_processors"):
        VllmSynth(
            model_params={"model": tiny_model}, sampling_params={"logits_processors": [lambda ids, logits: logits]}
        )
    client = VllmSynth(
        model_params={"model": tiny_model},
        sampling_params=SamplingParams(temperature=0.5, max_tokens=None, n=2, stop=["\n"], top_k=5),
    )
    assert client.sampling_params == {
        "temperature": 0.5,
        "top_p": 1.0,
        "max_tokens": None,
        "seed": None,
        "n": 2,
        "stop": ["\n"],
        "top_k": 5,
    }
    client.add_chat_to_batch_task("t", messages=greeting("Ada"))
    _, row, samples = client._chat(client.requests["t"][0])
    assert samples == 2 and json.loads(row["sampling"]["extra_body"]) == {"stop": ["\n"], "top_k": 5}


def test_vllm_synth_runs_the_blog_example_and_a_second_execute_sends_nothing(ray_local, tiny_model, tmp_path):
    from arctic_ray.synth import VllmSynth  # was: from arctic_training.synth import VllmSynth

    params = {"model": tiny_model, "max_model_len": 256, "kv_cache_memory_bytes": 64 << 20}
    client = VllmSynth(
        model_params=params,
        sampling_params={"temperature": 0, "max_tokens": 8, "top_k": 3},  # top_k travels to the engine
        work_dir=str(tmp_path),
    )
    for name in NAMES:
        client.add_chat_to_batch_task(
            task_name="greetings",
            messages=[{"role": "user", "content": f"Write a short greeting for {name}."}],
        )
    responses = client.execute_batch_task("greetings")
    extracted = client.extract_messages_from_responses(responses)

    assert_one_reply_per_chat(extracted)
    assert client.counts["greetings"] == {"sent": 3, "from_store": 0, "failed": 0}
    for r in responses:  # vLLM's RequestOutput shape, as their recursive_to_dict gives it
        (output,) = r["response"]["outputs"]
        assert 0 < len(output["token_ids"]) <= 8 and output["finish_reason"] in {"stop", "length"}
    assert (tmp_path / "greetings" / "requests" / "greetings.jsonl").is_file()
    assert (tmp_path / "greetings" / "results.jsonl").read_text().count("\n") == 3

    again = client.execute_batch_task("greetings")
    assert client.counts["greetings"] == {"sent": 0, "from_store": 3, "failed": 0}
    assert again == responses

    # Their MultiReplicaVllmSynth: the same engines (here all answers from the store), their text shape.
    from arctic_ray.synth import MultiReplicaVllmSynth

    multi = MultiReplicaVllmSynth(
        model_params=params,
        sampling_params={"temperature": 0, "max_tokens": 8, "top_k": 3},
        work_dir=str(tmp_path),
        gpu_ids=[0, 1],
    )
    for name in NAMES:
        multi.add_chat_to_batch_task(task_name="greetings", messages=greeting(name))
    texts = multi.execute_batch_task("greetings")
    assert multi.counts["greetings"] == {"sent": 0, "from_store": 3, "failed": 0}
    assert [t["response"] for t in texts] == [r["response"]["outputs"][0]["text"] for r in responses]
    assert multi.extract_messages_from_responses(texts) == extracted


@pytest.fixture
def batch_server():
    srv = FakeBatchServer(faults=Faults(complete_after_s=0.1)).start()
    yield srv
    srv.stop()


def files_under(path) -> str:
    return "".join(p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())


def test_azure_openai_synth_runs_the_blog_example_over_the_batch_api(ray_local, batch_server, tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", batch_server.api_key)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", batch_server.url)
    from arctic_ray.synth import AzureOpenAISynth  # was: from arctic_training.synth import AzureOpenAISynth

    client = AzureOpenAISynth(
        api_key=os.getenv("AZURE_OPENAI_API_KEY"),
        api_version="2024-07-01-preview",
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        work_dir=str(tmp_path),
        polling_interval=0.05,
    )
    for name in NAMES:
        client.add_chat_to_batch_task(
            task_name="greetings",
            model="gpt-4o",
            messages=[{"role": "user", "content": f"Write a short greeting for {name}."}],
        )
    responses = client.execute_batch_task("greetings")
    extracted = client.extract_messages_from_responses(responses)

    assert_one_reply_per_chat(extracted)
    for name, message in zip(NAMES, extracted, strict=False):
        assert message["choices"][0]["content"] == FakeBatchServer.answer_text(greeting(name))
    line = json.loads(responses[0])  # a Batch API output line, as their download returns it
    assert line["response"]["status_code"] == 200 and line["response"]["body"]["object"] == "chat.completion"
    assert batch_server.counts.creates == 1 and sum(batch_server.counts.requests.values()) == 3
    assert batch_server.uploads[0]["lines"][0]["url"] == "/chat/completions"

    again = client.execute_batch_task("greetings", print_status=True)  # their keyword
    assert client.extract_messages_from_responses(again) == extracted
    assert client.counts["greetings"] == {"sent": 0, "from_store": 3, "failed": 0}
    assert batch_server.counts.creates == 1
    assert batch_server.api_key not in files_under(tmp_path)


def test_openai_synth_samples_keywords_failures_and_a_key_kept_off_disk(ray_local, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "environ", os.environ.copy())  # the key this client puts there goes with the test
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = FakeBatchServer(faults=Faults(complete_after_s=0.1, error_rate=0.3, seed=3)).start()
    try:
        from arctic_ray.synth import OpenAISynth

        client = OpenAISynth(
            work_dir=str(tmp_path),
            polling_interval=0.05,
            batch_size=4,
            api_key=server.api_key,
            base_url=f"{server.url}/v1",
        )
        env_name = client.synth.connection.api_key_env
        assert env_name != "OPENAI_API_KEY" and os.environ[env_name] == server.api_key
        assert isinstance(client, openai.OpenAI) and client.batches and client.files  # theirs is one too
        for i in range(10):
            client.add_chat_to_batch_task(
                task_name="t", model="gpt-4o", messages=[{"role": "user", "content": f"q{i}"}], n=2, temperature=0.7,
                # their body keywords, verbatim
                max_completion_tokens=32, stop=["\n"], response_format={"type": "json_object"},
            )  # fmt: skip
        responses = client.execute_batch_task("t")
        lines = [json.loads(r) for r in responses]
        # Their step-by-step methods, by hand, on the same client.
        client.requests["manual"] = client.requests["t"][:2]
        client.save_batch_task("manual")
        file_ids = client.upload_batch_task("manual")
        assert [f.status for f in client.retrieve_uploaded_files("manual", print_status=False)] == ["processed"]
        batch_ids = client.submit_batch_task("manual", file_ids=file_ids)
        time.sleep(0.3)
        assert [b.status for b in client.retrieve_batch_task(batch_ids=batch_ids, print_status=False)] == ["completed"]
        manual = client.download_batch_task("manual")
    finally:
        server.stop()
    body = server.uploads[0]["lines"][0]["body"]
    assert body["temperature"] == 0.7 and body["max_completion_tokens"] == 32 and "max_tokens" not in body
    assert body["stop"] == ["\n"] and body["response_format"] == {"type": "json_object"}
    assert sum(server.counts.requests.values()) == 20 + 2 and len(server.uploads) == 5 + 1  # n=2 each, 4 per file
    # A request with a failed sample keeps its place, with its reason: the lists line up with the requests.
    failed = {e["custom_id"] for e in client.errors["t"]}
    assert failed and all(e["error"] for e in client.errors["t"])
    assert sorted(x["custom_id"] for x in lines) == sorted(f"t_{i}" for i in range(10))
    assert [x["custom_id"] for x in lines] == sorted(x["custom_id"] for x in lines)  # as their download sorts
    extracted = client.extract_messages_from_responses(responses)
    for line, message in zip(lines, extracted, strict=False):
        if line["custom_id"] in failed:
            assert message["choices"] == [] and message["error"] and line["error"]["message"] == message["error"]
        else:
            assert len(message["choices"]) == 2 and "error" not in message
    assert [json.loads(m)["custom_id"] for m in manual] == ["t_0", "t_1"]
    assert (tmp_path / "t" / "requests" / "t_2.jsonl").read_text().count("\n") == 2
    assert server.api_key not in files_under(tmp_path)


def test_cortex_synth_runs_the_example_set_based_and_a_second_execute_sends_nothing(
    ray_local, snowflake_server, tmp_path
):
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"{PASSWORD_ENV}=pw-never-written\n")
    from arctic_ray.synth import CortexSynth  # was: from arctic_training.synth import CortexSynth

    connection_params = {
        "account": "fakesnow", "user": "fake", "warehouse": "WH", "database": "ARCTIC", "schema": "SYNTH",
        "host": "127.0.0.1", "port": snowflake_server.port, "protocol": "http",
        "password_env": PASSWORD_ENV, "secrets_file": str(secrets),  # Ray already runs: a secret by name
    }  # fmt: skip
    with pytest.raises(ValueError, match="browser"):
        CortexSynth(connection_params={**connection_params, "authenticator": "externalbrowser"})
    # Their way: the password handed over, after Ray started. Answered in this process; the password goes nowhere.
    handed = CortexSynth(
        connection_params={
            **{k: v for k, v in connection_params.items() if k not in ("password_env", "secrets_file")},
            "password": "pw-handed-over",
        },
        work_dir=str(tmp_path / "handed"),
    )
    handed.add_chat_to_batch_task(task_name="one", model="llama3.2-1b", messages=greeting("Ada"))
    (answer,) = handed.extract_messages_from_responses(handed.execute_batch_task("one"))
    assert answer["choices"][0]["content"] == fake_answer("llama3.2-1b", greeting("Ada"), {})["choices"][0]["messages"]
    assert "pw-handed-over" not in files_under(tmp_path)

    client = CortexSynth(connection_params=connection_params)  # their default: no work dir
    before = snowflake_server.count("COMPLETE")
    for name in NAMES:
        client.add_chat_to_batch_task(
            task_name="greetings",
            model="llama3.2-1b",
            options={"temperature": 1, "top_p": 0.95},
            messages=[{"role": "user", "content": f"Write a short greeting for {name}."}],
        )
    responses = client.execute_batch_task("greetings")
    extracted = client.extract_messages_from_responses(responses)

    assert_one_reply_per_chat(extracted)
    for name, message in zip(NAMES, extracted, strict=False):
        assert (
            message["choices"][0]["content"] == fake_answer("llama3.2-1b", greeting(name), {})["choices"][0]["messages"]
        )
    assert snowflake_server.count("TRY_COMPLETE") - before == 1  # one statement for the whole task
    assert responses[0]["response"]["usage"]["prompt_tokens"] > 0

    after = snowflake_server.count()
    assert client.extract_messages_from_responses(client.execute_batch_task("greetings")) == extracted
    assert client.counts["greetings"] == {"sent": 0, "from_store": 3, "failed": 0} and snowflake_server.count() == after
    assert "pw-never-written" not in files_under(Path(client._root))
