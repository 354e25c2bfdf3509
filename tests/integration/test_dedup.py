"""MinHash near-dedup, exact dedup and decontamination on Ray Data: planted pairs on each side
of the threshold, groups collapsing to one survivor by the rule, chains, the distributed
components path, block-count independence."""

import pyarrow as pa
import pytest
import ray.data

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.decontaminate import decontaminate
from arctic_ray.curate.dedup.exact import exact_dedup
from arctic_ray.curate.dedup.minhash import minhash_dedup
from arctic_ray.curate.dedup.shingles import shingle_hashes
from arctic_ray.curate.dedup.signatures import signatures
from arctic_ray.curate.dedup.texts import DedupFieldError
from arctic_ray.data.shuffle import STRATEGIES, shuffle_strategy
from tests.support.dedup_corpus import edited, jaccard, text


def run(rows, cfg=None, blocks=3):
    cfg = cfg if cfg is not None else DedupConfig()
    result = minhash_dedup(ray.data.from_items(rows, override_num_blocks=blocks), cfg)
    kept = sorted(r["id"] for r in result.kept.take_all())
    dups = {d["id"]: (d["duplicate_of"], d["cluster"]) for d in result.duplicates.take_all()}
    return kept, dups, result


def test_planted_pairs_above_and_below_the_threshold(ray_local):
    base, other = text(10), text(11)
    near, far = edited(base, 80), edited(base, *range(4, 160, 8))  # one edit vs twenty
    assert jaccard(base, near) >= 0.8 and jaccard(base, far) < 0.5
    rows = [
        {"id": "a", "completion": base},
        {"id": "b", "completion": near},
        {"id": "c", "completion": far},
        {"id": "d", "completion": other},
    ]
    kept, dups, _ = run(rows)
    assert kept == ["a", "c", "d"]
    assert dups == {"b": ("a", "a")}


def test_a_group_collapses_to_one_survivor_by_score_then_id(ray_local):
    base = text(20)
    rows = [
        {"id": f"r{i}", "completion": edited(base, 20 * i + 10), "score": s}
        for i, s in enumerate([0.2, 0.9, None, 0.9])
    ]
    rows.append({"id": "x", "completion": text(21), "score": 0.1})
    kept, dups, _ = run(rows, DedupConfig(survivor_score="score"))
    # best score wins; a tie goes to the smallest id; no score ranks last
    assert kept == ["r1", "x"]
    assert dups == {"r0": ("r1", "r1"), "r2": ("r1", "r1"), "r3": ("r1", "r1")}
    kept, dups, _ = run(rows)  # without a score: the smallest id
    assert kept == ["r0", "x"] and set(dups) == {"r1", "r2", "r3"}


def test_a_chain_ends_in_one_component(ray_local):
    a = text(31)
    b = edited(a, 20, 70, 120)  # A~B
    c = edited(b, 45, 95, 145, tag="other")  # B~C, six edits away from A
    assert jaccard(a, b) >= 0.8 and jaccard(b, c) >= 0.8 and jaccard(a, c) < 0.7
    sigs = signatures(shingle_hashes(pa.array([a, b, c]), "word", 5), 128, 1)
    assert (sigs[0] == sigs[2]).mean() < 0.7  # no A~C edge even by estimate: only the chain joins them
    for local_limit in (1_000_000, 0):  # one union-find, then the large-star/small-star shuffles
        kept, dups, _ = run(
            [{"id": "A", "completion": a}, {"id": "B", "completion": b}, {"id": "C", "completion": c}],
            DedupConfig(local_limit=local_limit),
        )
        assert kept == ["A"], local_limit
        assert dups == {"B": ("A", "A"), "C": ("A", "A")}, local_limit


def test_same_result_in_one_block_and_many_on_the_distributed_path_and_either_shuffle(ray_local):
    rows = []
    for g in range(12):
        base = text(100 + g)
        rows += [{"id": f"{g:02d}-{k}", "completion": edited(base, 30 * k) if k else base} for k in range(g % 4 + 1)]
    expected = None
    for blocks, local_limit, shuffle in (
        (1, 1_000_000, "sort"),
        (7, 1_000_000, "hash"),
        (5, 0, "sort"),
        (4, 0, "hash"),
    ):
        kept, dups, _ = run(rows, DedupConfig(local_limit=local_limit, shuffle_partitions=3, shuffle=shuffle), blocks)
        if expected is None:
            expected = (kept, dups)
            assert kept == [f"{g:02d}-0" for g in range(12)]
            assert len(dups) == sum(g % 4 for g in range(12))
        assert (kept, dups) == expected, (blocks, local_limit, shuffle)


def test_the_shuffle_setting_reaches_the_groupby_and_is_put_back(ray_local):
    ds = ray.data.from_items([{"part": i % 2} for i in range(6)])
    before = ds.context.shuffle_strategy
    assert before != STRATEGIES["sort"]
    with shuffle_strategy(ds, "sort"):
        grouped = ds.groupby("part").count().materialize()
    assert grouped.context.shuffle_strategy == STRATEGIES["sort"]  # what the groupby ran on
    assert ds.context.shuffle_strategy == before
    assert sorted(r["count()"] for r in grouped.take_all()) == [3, 3]


def test_giant_groups_are_reported_and_kept_unless_asked(ray_local):
    base = text(40)
    rows = [{"id": f"g{i:02d}", "completion": base} for i in range(6)] + [{"id": "z", "completion": text(41)}]
    kept, dups, result = run(rows, DedupConfig(max_cluster_size=4))
    assert result.giant_clusters == [{"cluster": "g00", "size": 6}]
    assert len(kept) == 7 and not dups
    kept, dups, _ = run(rows, DedupConfig(max_cluster_size=4, drop_giant_clusters=True))
    assert kept == ["g00", "z"] and len(dups) == 5


def test_rows_keep_their_columns_and_the_field_can_be_the_conversation(ray_local):
    base = text(50)
    rows = [
        {
            "id": "1",
            "messages": [{"role": "user", "content": base}],
            "completion": "yes",
            "usage": {"prompt_tokens": 1},
        },
        {
            "id": "2",
            "messages": [{"role": "user", "content": edited(base, 60)}],
            "completion": "yes",
            "usage": {"prompt_tokens": 2},
        },
        {
            "id": "3",
            "messages": [{"role": "user", "content": base}],
            "completion": text(51),
            "usage": {"prompt_tokens": 3},
        },
    ]
    kept, dups, result = run(rows, DedupConfig(field="messages"))
    assert kept == ["1"] and set(dups) == {"2", "3"}
    assert {d["id"]: d["usage"]["prompt_tokens"] for d in result.duplicates.take_all()} == {"2": 2, "3": 3}
    kept, dups, _ = run(rows, DedupConfig(field=["messages", "completion"]))  # the whole conversation
    assert kept == ["1", "3"] and dups == {"2": ("1", "1")}
    with pytest.raises(DedupFieldError, match="'prompt' is not a column"):
        run(rows, DedupConfig(field="prompt"))


def test_exact_dedup_normalises_case_and_space(ray_local):
    rows = [
        {"id": "b", "completion": "Hello   World"},
        {"id": "a", "completion": "hello world "},
        {"id": "c", "completion": "Hello, World"},
    ]
    result = exact_dedup(ray.data.from_items(rows, override_num_blocks=2), DedupConfig())
    assert sorted(r["id"] for r in result.kept.take_all()) == ["a", "c"]
    assert [(d["id"], d["duplicate_of"]) for d in result.duplicates.take_all()] == [("b", "a")]


def test_decontamination_against_an_eval_set(ray_local):
    evals = [{"id": "e1", "completion": text(60)}, {"id": "e2", "completion": text(61)}]
    rows = [
        {"id": "r1", "completion": edited(evals[0]["completion"], 20)},
        {"id": "r2", "completion": text(62)},
        {"id": "r3", "completion": edited(text(62), 20)},  # a duplicate of r2, not of an eval row: kept here
    ]
    result = decontaminate(ray.data.from_items(rows), ray.data.from_items(evals), DedupConfig())
    assert sorted(r["id"] for r in result.kept.take_all()) == ["r2", "r3"]
    assert [(d["id"], d["duplicate_of"]) for d in result.duplicates.take_all()] == [("r1", "e1")]


def test_repeated_ids_are_refused_not_lost(ray_local):
    rows = [
        {"id": "x", "completion": "same words here"},
        {"id": "x", "completion": "same words here"},
        {"id": "y", "completion": "other"},
    ]
    with pytest.raises(Exception, match="id 'x' repeats"):
        exact_dedup(ray.data.from_items(rows), DedupConfig()).kept.take_all()
