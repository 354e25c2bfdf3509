"""The generation store: stable content keys, answers persisted as whole segments, shared by
every process that opens the same directory."""

import json

from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore, StoreWriter, request_key

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


def test_a_store_on_a_filesystem_uri_and_a_torn_segment(tmp_path):
    """Any pyarrow filesystem URI works; a segment torn on an object store (no rename there) is
    skipped, not fatal, and the rest of the store still answers."""
    uri = f"file://{tmp_path}/remote"
    GenerationStore(uri).put_many([{"key": "a", "completion": "x"}])
    (tmp_path / "remote" / "seg-torn.jsonl").write_text(json.dumps({"key": "t"}) + '\n{"key": "u", "compl')
    assert set(GenerationStore(uri).get_many(["a", "t", "u"])) == {"a"}
    assert not list((tmp_path / "remote").glob(".tmp-*"))  # renamed into place


def test_buffered_writer_flushes_by_count_and_the_sent_log_lists_keys(tmp_path):
    writer = StoreWriter(tmp_path, flush_rows=2, flush_s=3600)
    writer.add({"key": "a", "completion": "x"})
    assert GenerationStore(tmp_path).get_many(["a"]) == {}  # still buffered: what a crash could lose
    writer.add({"key": "b", "completion": "", "error": "429"})  # failures are never stored
    writer.add({"key": "c", "completion": "y"})
    assert set(GenerationStore(tmp_path).get_many(["a", "b", "c"])) == {"a", "c"}
    log = SentLog(tmp_path)
    log.record(["a", "b"])
    assert SentLog(tmp_path).keys() == {"a", "b"}
