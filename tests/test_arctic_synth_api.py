"""ArcticTraining's synth API on arctic_ray: the blog's example (a loop adding one chat per name
to a task, executing the task, extracting the messages) runs with only the import changed, and
executing the task again sends nothing."""

import subprocess
import sys

import pytest

NAMES = ["Alice", "Bob", "Charlie"]


def blog_example(client, **model):
    """The blog's loop, as ArcticTraining users write it (`model=` only where their class takes it)."""
    for name in NAMES:
        client.add_chat_to_batch_task(
            task_name="greetings",
            messages=[{"role": "user", "content": f"Write a short greeting for {name}."}],
            **model,
        )
    responses = client.execute_batch_task("greetings")
    return responses, client.extract_messages_from_responses(responses)


def assert_one_reply_per_chat(extracted):
    assert [m["custom_id"] for m in extracted] == [f"greetings_{i}" for i in range(len(NAMES))]
    for message in extracted:
        (choice,) = message["choices"]
        assert choice["role"] == "assistant" and isinstance(choice["content"], str) and choice["content"]


def test_import_is_light_and_names_the_four_classes():
    code = "import sys, arctic_ray.synth as s; print(sorted(s.__all__)); print(any(m in sys.modules for m in ('vllm', 'openai', 'ray.data')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['AzureOpenAISynth', 'CortexSynth', 'OpenAISynth', 'VllmSynth']" and out[1] == "False"


def test_vllm_sampling_params_it_cannot_carry_are_refused_by_name(tiny_model):
    from vllm import SamplingParams

    from arctic_ray.synth import VllmSynth

    with pytest.raises(ValueError, match="stop"):
        VllmSynth(model_params={"model": tiny_model}, sampling_params=SamplingParams(temperature=0, stop=["\n"]))
    with pytest.raises(ValueError, match="top_k"):
        VllmSynth(model_params={"model": tiny_model}, sampling_params={"top_k": 5})
    client = VllmSynth(model_params={"model": tiny_model}, sampling_params=SamplingParams(temperature=0.5, max_tokens=None, n=2))
    assert client.sampling_params == {"temperature": 0.5, "top_p": 1.0, "max_tokens": None, "seed": None, "n": 2}


def test_vllm_synth_runs_the_blog_example_and_a_second_execute_sends_nothing(ray_local, tiny_model, tmp_path):
    from arctic_ray.synth import VllmSynth  # was: from arctic_training.synth import VllmSynth

    client = VllmSynth(
        model_params={"model": tiny_model, "max_model_len": 256, "kv_cache_memory_bytes": 64 << 20},
        sampling_params={"temperature": 0, "max_tokens": 8},
        work_dir=str(tmp_path),
    )
    responses, extracted = blog_example(client)
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
