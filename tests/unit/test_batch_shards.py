"""The Batch API's input files are cut within every limit (requests, bytes, tokens)."""

from __future__ import annotations

from arctic_ray.synth.backends.openai_batch.shards import ShardCutter, ShardLimits, batch_request


def test_cutter_respects_every_limit():
    reqs = [
        batch_request(f"k{i}", "/v1/chat/completions", {"messages": []}, [{"content": "x" * 40}], 8) for i in range(10)
    ]
    size = len(reqs[0].line)
    for limits in (
        ShardLimits(max_requests=3),
        ShardLimits(max_bytes=2 * size + 1),
        ShardLimits(max_enqueued_tokens=29),
    ):
        cutter = ShardCutter(limits)
        shards = [s for s in [*(cutter.add(r) for r in reqs), cutter.close()] if s]
        assert [k for s in shards for k in s.keys] == [r.key for r in reqs]
        assert all(len(s.keys) <= limits.max_requests and s.n_bytes <= limits.max_bytes for s in shards)
        assert all(s.prompt_tokens <= (limits.max_enqueued_tokens or s.prompt_tokens) for s in shards)
        assert len(shards) > 1
