"""Store segments and the Batch API manifest are durable, as the README says: the data is fsynced
before the rename that makes it visible, and the directory after it (else a power loss can leave
a name pointing at nothing). The calls are watched through the real os functions."""

from __future__ import annotations

import json
import os

import pytest

from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore


@pytest.fixture
def syscalls(monkeypatch):
    """(call, path) for every fsync and rename, in order."""
    seen: list[tuple[str, str]] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd):
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, *a, **k):
        seen.append(("rename", str(dst)))
        return real_replace(src, dst, *a, **k)

    def rename(src, dst, *a, **k):
        seen.append(("rename", str(dst)))
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return seen


def assert_durable(seen: list[tuple[str, str]], final: str) -> None:
    """The file's data fsynced before the rename to `final`, then its directory."""
    renames = [i for i, (call, path) in enumerate(seen) if call == "rename" and path == final]
    assert renames, f"{final} was never renamed into place: {seen}"
    i = renames[-1]
    before, after = seen[:i], seen[i + 1 :]
    assert any(call == "fsync" and os.path.basename(path).endswith(os.path.basename(final)) for call, path in before), (
        seen
    )
    assert ("fsync", os.path.dirname(final)) in after, seen


def test_answer_segments_are_fsynced_then_renamed_then_the_directory(tmp_path, syscalls):
    store = GenerationStore(tmp_path / "store")
    store.put_many([{"key": "k1", "completion": "x"}])
    (segment,) = (tmp_path / "store").glob("seg-*.jsonl")
    assert_durable(syscalls, str(segment))
    SentLog(tmp_path / "store").record(["k1"])  # renamed into place whole; not fsynced (a count, on the send path)
    (sent,) = (tmp_path / "store").glob("sent-*.jsonl")
    assert ("rename", str(sent)) in syscalls
    assert [json.loads(line)["key"] for line in sent.read_text().splitlines()] == ["k1"]
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(".tmp")]


def test_the_batch_manifest_is_fsynced_too(tmp_path, syscalls):
    from arctic_ray.synth.backends.openai_batch.manifest import BatchManifest

    manifest = BatchManifest(str(tmp_path / "run"), "openai_batch", "gpt-test")
    assert_durable(syscalls, manifest.path)
