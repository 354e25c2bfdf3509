"""MinHash without a cluster: signatures equal datasketch's on the same shingles, sketches estimate
what the full signatures do, and small row sets are decontaminated in process."""

import numpy as np
import pyarrow as pa
from datasketch import MinHash

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.decontaminate import dedup_against
from arctic_ray.curate.dedup.shingles import shingle_hashes, shingle_set, span_hash
from arctic_ray.curate.dedup.signatures import jaccard as sketch_jaccard
from arctic_ray.curate.dedup.signatures import signatures, sketches
from tests.support.dedup_corpus import edited, text


def test_signatures_equal_datasketch_on_the_same_shingles():
    texts = [text(1), "Ünïcode wörds, and PUNCTUATION!!  spaced   out", "short", ""]
    sh = shingle_hashes(pa.array(texts), "word", 5)
    sigs = signatures(sh, 128, 1)
    for i, t in enumerate(texts):
        reference = MinHash(num_perm=128, seed=1, hashfunc=span_hash)
        for s in shingle_set(t, "word", 5):
            reference.update(s.encode())
        assert np.array_equal(sigs[i], reference.hashvalues.astype(np.uint32)), t
    # characters too: a shingle is n characters of the normalised text
    assert shingle_set("Ab, c", "char", 3) == {"ab ", "b c"}
    assert len(shingle_hashes(pa.array(["Ab, c"]), "char", 3).hashes) == 2


def test_sketches_estimate_what_the_full_signatures_do():
    """The band shuffle carries 8-bit sketches: their corrected agreement is the signatures'."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**32, (2000, 128), dtype=np.uint32)
    b = np.where(rng.random(a.shape) < 0.7, a, rng.integers(0, 2**32, a.shape, dtype=np.uint32))
    full = (a == b).mean(axis=1)
    estimate = sketch_jaccard(sketches(a), sketches(b))
    assert abs((estimate - full).mean()) < 0.002
    assert np.abs(estimate - full).max() <= 3 / 128


def test_small_row_sets_are_decontaminated_in_process():
    base = text(70)
    rows = [
        {"id": "a", "text": edited(base, 20)},  # an eval prompt, lightly edited
        {"id": "b", "text": text(71)},
        {"id": "c", "text": edited(text(71), 25)},
    ]
    kept, removed = dedup_against(rows, lambda r: r["text"], [base], DedupConfig())
    assert [r["id"] for r in kept] == ["b"]
    assert {r["id"]: r["duplicate_of"] for r in removed} == {"a": "eval prompt 0", "c": "row b"}
