import ray.data

from arctic_ray.config.dedup import DedupConfig
from arctic_ray.curate.minhash_dedup import dedup_against, find_duplicates, minhash_dedup, shingles, signature

BASE = (
    "The water cycle moves water between the oceans, the air and the land. The sun heats the sea, "
    "water evaporates, rises, cools into clouds and falls again as rain or snow that flows back to the sea."
)


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def test_threshold_separates_near_from_far():
    cfg = DedupConfig()
    near = BASE.replace("back to the sea", "back into the sea")  # one small edit
    far = BASE.split(". ")[0] + ". Volcanoes form where plates meet and magma rises through the crust."
    # LSH is approximate near the threshold: the pair sits clearly on each side of 0.7
    assert jaccard(BASE, near) >= 0.8 and jaccard(BASE, far) < 0.5
    dups = find_duplicates(
        ["a", "b", "c"], [signature(t, cfg).hashvalues for t in (BASE, near, far)], cfg
    )
    assert dups == {"b": "a"}


def test_first_id_wins_whatever_the_order():
    cfg = DedupConfig()
    sigs = [signature(BASE, cfg).hashvalues] * 3
    assert find_duplicates(["z", "m", "a"], sigs, cfg) == {"m": "a", "z": "a"}


def test_ray_stage_writes_duplicates_aside(ray_local):
    rows = [
        {"id": "1", "completion": BASE, "usage": {"prompt_tokens": 1}},
        {"id": "2", "completion": BASE + " Really.", "usage": {"prompt_tokens": 2}},
        {"id": "3", "completion": "Something else entirely, about bread and how to bake it at home.", "usage": {"prompt_tokens": 3}},
    ]
    result = minhash_dedup(ray.data.from_items(rows, override_num_blocks=2), DedupConfig())
    kept = sorted(r["id"] for r in result.kept.take_all())
    dups = result.duplicates.take_all()
    assert kept == ["1", "3"]
    assert [(d["id"], d["duplicate_of"]) for d in dups] == [("2", "1")]
    assert dups[0]["usage"]["prompt_tokens"] == 2  # nested columns survive the stage
    assert "duplicate_of" not in result.kept.schema().names


def test_generated_prompts_are_decontaminated_against_the_eval_prompts():
    eval_prompts = [BASE]
    rows = [
        {"id": "a", "text": BASE.replace("the sea", "the ocean", 1)},  # an eval prompt, lightly edited
        {"id": "b", "text": "Write a haiku about autumn leaves falling slowly on a quiet pond in the morning."},
        {"id": "c", "text": "Write a haiku about autumn leaves falling slowly on a quiet pond in the morning!"},
    ]
    kept, removed = dedup_against(rows, lambda r: r["text"], eval_prompts, DedupConfig())
    assert [r["id"] for r in kept] == ["b"]
    assert {r["id"]: r["duplicate_of"] for r in removed} == {"a": "eval prompt 0", "c": "row b"}
