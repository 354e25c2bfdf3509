"""The generation store: stable content keys, answers persisted as whole segments, shared by
every process that opens the same directory."""

import json

from arctic_ray.synth.store import GenerationStore, request_key

MESSAGES = [{"role": "user", "content": "hi"}]


def test_keys_name_exactly_what_was_asked():
    greedy = {"temperature": 0.0, "max_tokens": 8}
    k = request_key("vllm", "m", MESSAGES, greedy)
    assert k == request_key("vllm", "m", MESSAGES, dict(reversed(list(greedy.items()))))  # order-free
    assert k != request_key("vllm", "other-model", MESSAGES, greedy)
    assert k != request_key("openai", "m", MESSAGES, greedy)
    assert k != request_key("vllm", "m", MESSAGES, {**greedy, "max_tokens": 9})
    # greedy decoding has one answer: samples share it; sampled ones are n distinct requests
    assert request_key("vllm", "m", MESSAGES, greedy, 3) == k
    sampled = {"temperature": 0.7, "max_tokens": 8}
    assert request_key("vllm", "m", MESSAGES, sampled, 0) != request_key("vllm", "m", MESSAGES, sampled, 1)


def test_answers_persist_and_are_shared_between_processes(tmp_path):
    writer = GenerationStore(tmp_path)
    n = writer.put_many([{"key": "a", "completion": "x"}, {"key": "b", "completion": "", "error": "boom"}])
    assert n == 1  # a failed request is asked again next time, never stored
    reader = GenerationStore(tmp_path)  # another process opening the same directory
    assert reader.get_many(["a", "b"]) == {"a": {"key": "a", "completion": "x"}}
    writer.put_many([{"key": "c", "completion": "y"}])
    assert set(reader.get_many(["a", "c"])) == {"a", "c"}  # new segments are picked up


def test_a_half_written_segment_is_never_read(tmp_path):
    store = GenerationStore(tmp_path)
    store.put_many([{"key": "a", "completion": "x"}])
    (tmp_path / ".tmp-seg-crashed.jsonl").write_text(json.dumps({"key": "z"}) + "\n{broken")
    assert set(GenerationStore(tmp_path).get_many(["a", "z"])) == {"a"}
