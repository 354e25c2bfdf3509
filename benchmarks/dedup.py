"""MinHash near-dedup: arctic_ray's `minhash_dedup` (Ray Data, W local workers) against the
baseline of datasketch in one process, on the same corpus, threshold 0.7, 128 permutations, word
5-grams. One line per worker count:

  dedup: docs=N workers=W ours_docs_s=X datasketch_docs_s=Y speedup=X/Y recall=R precision=P

Corpus: real text shipped with the installed packages (docstrings and comment blocks of the
site-packages' .py files, their .md/.rst/.txt files and package METADATA), cut into documents of
30-300 words, deduplicated exactly and then cleaned of natural near-duplicates (a document is
dropped when more than 20% of its word 5-grams occur in an earlier one), so the only
near-duplicates are planted: N/10 copies of other documents with random words replaced,
deleted or inserted until their exact word-5-gram Jaccard falls to a target drawn uniformly from
0.5-0.95 (short documents overshoot: one edit moves them by up to ~0.3), recorded per pair.
(Past the ~100k documents the packages give, documents are spliced from two halves of different
ones: Jaccard at most ~1/3 with anything.)

Baseline: per document, shingles (the same normalisation as `shingle_set`, done for all texts
at once by pyarrow), `MinHash(num_perm=128).update_batch(shingles)` (datasketch's defaults), then
`MinHashLSH(threshold=0.7, num_perm=128)`: query, verify candidates by estimated Jaccard, insert
the ones that are not duplicates (the usual one-process dedup loop, ids in order).

Ours: `minhash_dedup` over the corpus as an in-memory Dataset (blocks of 4096 documents) on a
fresh local Ray with `num_cpus=W` (W=4 oversubscribes a 2-core machine: the output says so).
Timed: from the Dataset to kept and duplicates both materialized (signatures, the band shuffle,
verification, components, the split). Not timed: Ray start-up and worker warm-up (a run on 2,000
documents first), building the corpus. Same for the baseline: shingling, MinHash and LSH timed,
building the corpus not.

recall: planted pairs with exact Jaccard >= 0.7 that end in one component (same cluster, or one
is the other's survivor). precision: reported pairs (row, the row kept in its place) whose exact
Jaccard is at least 0.6. Also printed: the baseline's own recall/precision, the driver's peak RSS
while the clock runs at N/4 and N documents (workers=2; the growth is over its RSS with the
corpus already in the object store), and with --stages the time of each stage
(one worker, materialized one after another) and the single-core cost of the per-row kernels.

    python benchmarks/dedup.py                    # 100,000 documents, W = 1, 2, 4 (several minutes on 2 cores)
    python benchmarks/dedup.py --docs 20000 --workers 2 --stages
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.shingles import normalise, shingle_hashes

SITE = Path(np.__file__).resolve().parent.parent  # the venv's site-packages
CFG = DedupConfig(field="text", threshold=0.7, num_perm=128, ngram=5, shingle="word")
MIN_WORDS, MAX_WORDS = 30, 300
BLOCK_DOCS = 4096
WARMUP_DOCS = 2000
_TRIPLE = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)
_COMMENTS = re.compile(r"(?:^[ \t]*#[^\n]*\n){2,}", re.M)
_PARA = re.compile(r"\n\s*\n")


# ---------------------------------------------------------------- the corpus


def _chunks(body: str):
    """Paragraphs joined until 30 words, cut at 300."""
    words: list[str] = []
    for para in _PARA.split(body):
        words += para.split()
        while len(words) >= MAX_WORDS:
            yield " ".join(words[:MAX_WORDS])
            words = words[MAX_WORDS:]
        if len(words) >= MIN_WORDS:
            yield " ".join(words)
            words = []


def package_texts(root: Path = SITE) -> list[str]:
    """Distinct documents of 30-300 words from the text in `root`, in a fixed order."""
    docs = set()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".py", ".pyi", ".md", ".rst", ".txt") and path.name != "METADATA":
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        if path.suffix in (".py", ".pyi"):
            bodies = [m.group(1) or m.group(2) or "" for m in _TRIPLE.finditer(text)]
            bodies += [re.sub(r"^[ \t]*#+", "", m.group(0), flags=re.M) for m in _COMMENTS.finditer(text)]
        else:
            bodies = [text]
        for body in bodies:
            docs.update(_chunks(body))
    return sorted(docs)


def without_near_duplicates(docs: list[str], max_seen: float = 0.2) -> list[str]:
    """docs (in order) without those whose word 5-grams occurred in earlier documents for more
    than `max_seen` of theirs (exact and natural near-duplicates go, with room to spare), and
    without those of fewer than 30 words once normalised."""
    sh = shingle_hashes(pa.array(docs, pa.large_string()), "word", 5)
    doc = np.repeat(np.arange(len(docs), dtype=np.uint64), np.diff(sh.offsets))
    pairs = np.unique((sh.hashes.astype(np.uint64) << np.uint64(32)) | doc)  # distinct (shingle, doc), by shingle
    shingle, owner = pairs >> np.uint64(32), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)
    first = np.concatenate([[True], shingle[1:] != shingle[:-1]])
    first_owner = owner[np.maximum.accumulate(np.where(first, np.arange(len(pairs)), 0))]
    seen = np.bincount(owner, weights=first_owner < owner, minlength=len(docs))
    share = seen / np.maximum(np.bincount(owner, minlength=len(docs)), 1)
    long_enough = np.diff(sh.offsets) >= MIN_WORDS - 4  # 30 words once normalised (punctuation is not a word)
    return [d for d, s, ok in zip(docs, share, long_enough, strict=False) if ok and s <= max_seen]


def spliced(docs: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """n more documents, each the first half of one document and the second half of another."""
    out: set[str] = set()
    while len(out) < n:
        a, b = rng.choice(len(docs), 2, replace=False)
        wa, wb = docs[a].split(), docs[b].split()
        out.add(" ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :]))
    return sorted(out)


def normalised(texts: list[str]) -> list[str]:
    """`shingle_set`'s normalisation, for a whole list in one pyarrow call (per text, its regex
    would be compiled again each time)."""
    return normalise(pa.array(texts, pa.large_string())).to_pylist()


def _shingles(words: list[str]) -> set[tuple]:
    n = CFG.ngram
    return {tuple(words[k : k + n]) for k in range(max(len(words) - n + 1, 1))} if words else set()


def jaccard(a: str, b: str) -> float:
    """Exact word-5-gram Jaccard of two normalised texts (what `shingle_set` gives)."""
    sa, sb = _shingles(a.split()), _shingles(b.split())
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def near_copy(words: list[str], target: float, vocab: list[str], rng: np.random.Generator) -> str:
    """The normalised words of a text with the number of a random sequence of edits (a word
    replaced, 70%; deleted, 15%; inserted, 15%) whose Jaccard comes nearest `target`."""
    positions = rng.permutation(len(words))
    kinds = rng.random(len(words))
    fresh = [vocab[k] for k in rng.integers(len(vocab), size=len(words))]
    original = _shingles(words)

    def edited(k: int) -> list[str]:
        out = list(words)
        for pos in sorted(positions[:k], reverse=True):  # from the end: earlier positions stay put
            if kinds[pos] < 0.7:
                out[pos] = fresh[pos]
            elif kinds[pos] < 0.85:
                del out[pos]
            else:
                out.insert(pos, fresh[pos])
        return out

    def similarity(k: int) -> float:
        other = _shingles(edited(k))
        return len(original & other) / len(original | other)

    # k edits of ~5 shingles each give about (s - 5k) / (s + 5k); walk from there
    s = max(len(words) - CFG.ngram + 1, 1)
    k = min(len(words), max(1, round(s * (1 - target) / (CFG.ngram * (1 + target)))))
    sim = {k: similarity(k)}
    step = 1 if sim[k] > target else -1
    while 1 <= k + step <= len(words) and (sim[k] > target) == (step > 0):
        k += step
        sim[k] = similarity(k)
    best = min([e for e in sim if sim[e] < 1] or sim, key=lambda e: abs(sim[e] - target))  # a copy is never the same
    return " ".join(edited(best))


class Corpus:
    def __init__(self, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        pool = package_texts()
        rng.shuffle(pool)
        pool = without_near_duplicates(pool)
        planted = n // 10
        originals = n - planted
        self.spliced = max(0, originals - len(pool))
        if self.spliced:
            pool += spliced(pool, self.spliced, rng)
        texts = pool[:originals]
        norm = normalised(texts)
        vocab = sorted({w for t in norm[:2000] for w in t.split()})
        sources = rng.choice(originals, planted, replace=False)
        copies = [near_copy(norm[i].split(), rng.uniform(0.5, 0.95), vocab, rng) for i in sources]
        texts += copies  # a copy is normalised text: normalising it again changes nothing
        norm += copies
        # ids in random order (the original is not always the survivor), rows in id order (so
        # any first n rows are a sample with copies in it)
        rank = rng.permutation(n)
        ids = [f"d{r:07d}" for r in rank]
        self.norm_of = dict(zip(ids, norm, strict=False))
        self.pairs = [(ids[i], ids[originals + k]) for k, i in enumerate(sources)]
        self.pair_jaccard = np.array([jaccard(self.norm_of[a], self.norm_of[b]) for a, b in self.pairs])
        by_id = np.argsort(rank)
        self.ids: list[str] = [ids[i] for i in by_id]
        self.texts = [texts[i] for i in by_id]

    def table(self, n: int | None = None) -> pa.Table:
        n = len(self.ids) if n is None else n
        return pa.table(
            {"id": pa.array(self.ids[:n], pa.string()), "text": pa.array(self.texts[:n], pa.large_string())}
        )


# ---------------------------------------------------------------- scoring


def score(corpus: Corpus, duplicate_of: dict[str, str], root_of: dict[str, str]) -> tuple[float, float]:
    """(recall over planted pairs with Jaccard >= threshold, precision of reported pairs)."""

    def root(i: str) -> str:
        return root_of.get(i, i)

    due = [(a, b) for (a, b), j in zip(corpus.pairs, corpus.pair_jaccard, strict=False) if j >= CFG.threshold]
    recall = sum(root(a) == root(b) for a, b in due) / max(len(due), 1)
    good = sum(jaccard(corpus.norm_of[i], corpus.norm_of[of]) >= 0.6 for i, of in duplicate_of.items())
    return recall, good / max(len(duplicate_of), 1)


# ---------------------------------------------------------------- the baseline


def datasketch_dedup(ids: list[str], texts: list[str]) -> dict[str, str]:
    """{duplicate id: the kept id it matches}, one process, ids in order."""
    from datasketch import MinHash, MinHashLSH

    n = CFG.ngram
    lsh = MinHashLSH(threshold=CFG.threshold, num_perm=CFG.num_perm)
    kept: dict[str, MinHash] = {}
    duplicate_of: dict[str, str] = {}
    order = sorted(range(len(ids)), key=ids.__getitem__)
    norm = normalise(pa.array([texts[i] for i in order], pa.large_string())).to_pylist()
    for i, text in zip(order, norm, strict=False):
        units = text.split()
        shingles = {" ".join(units[k : k + n]).encode() for k in range(max(len(units) - n + 1, 1))}
        m = MinHash(num_perm=CFG.num_perm)
        m.update_batch(list(shingles))
        matches = [k for k in lsh.query(m) if kept[k].jaccard(m) >= CFG.threshold]
        if matches:
            duplicate_of[ids[i]] = min(matches)
        else:
            lsh.insert(ids[i], m)
            kept[ids[i]] = m
    return duplicate_of


# ---------------------------------------------------------------- ours


class PeakRSS:
    """The driver's RSS high-water mark while the block runs, sampled every 10 ms."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _dataset(table: pa.Table):
    import ray.data

    return ray.data.from_arrow([table.slice(i, BLOCK_DOCS) for i in range(0, table.num_rows, BLOCK_DOCS)])


def ours(table: pa.Table) -> tuple[float, pa.Table, int, PeakRSS]:
    """(seconds, duplicates (id, duplicate_of, cluster), kept rows, the driver's RSS while the
    clock ran) of one timed run. The Dataset is made before the clock and the RSS baseline: its
    blocks are copied into the object store from here, and those pages count in this RSS."""
    import ray

    from arctic_ray.curate.dedup.minhash import minhash_dedup

    ds = _dataset(table)
    with PeakRSS() as rss:
        start = time.perf_counter()
        result = minhash_dedup(ds, CFG)
        kept = result.kept.materialize()
        dups = result.duplicates.materialize()
        seconds = time.perf_counter() - start
    tables = [t.select(["id", "duplicate_of", "cluster"]) for t in ray.get(dups.to_arrow_refs()) if t.num_rows]
    empty = pa.table({"id": [], "duplicate_of": [], "cluster": []})
    return seconds, pa.concat_tables(tables) if tables else empty, kept.count(), rss


def stages(table: pa.Table) -> str:
    """Each stage of minhash_dedup materialized before the next, and the per-row kernels on one
    core in this process."""
    from arctic_ray.curate.dedup.band_rows import band_rows, band_rows_of
    from arctic_ray.curate.dedup.near import near_duplicates, shuffle_partitions
    from arctic_ray.curate.dedup.nodes import ranks
    from arctic_ray.curate.dedup.signatures import signatures
    from arctic_ray.curate.dedup.tagging import split_rows

    ds = _dataset(table)
    times = {}
    start = time.perf_counter()
    partitions = shuffle_partitions(CFG)
    rows = ds.map_batches(band_rows, fn_args=(CFG, partitions), batch_format="pyarrow", batch_size=1024).materialize()
    times["band_rows"] = time.perf_counter() - start
    start = time.perf_counter()
    dups, _ = near_duplicates(rows, CFG, partitions)
    times["near_duplicates"] = time.perf_counter() - start
    start = time.perf_counter()
    kept, duplicates = split_rows(ds, dups, partitions)
    kept.materialize(), duplicates.materialize()
    times["split"] = time.perf_counter() - start
    band_bytes = rows.size_bytes()

    batch = table.slice(0, 1024)
    texts = batch.column("text").combine_chunks()
    kernels = {}
    for name, fn in (
        ("shingles", lambda: shingle_hashes(texts, "word", 5)),
        ("signatures", lambda: signatures(shingle_hashes(texts, "word", 5), CFG.num_perm, CFG.seed)),
        (
            "band_rows",
            lambda: band_rows_of(texts, batch.column("id").combine_chunks(), ranks(batch, None), CFG, partitions),
        ),
    ):
        fn()
        start = time.perf_counter()
        for _ in range(3):
            fn()
        kernels[name] = 3 * batch.num_rows / (time.perf_counter() - start)
    return (
        f"dedup-stages: docs={table.num_rows} "
        + " ".join(f"{k}_s={v:.1f}" for k, v in times.items())
        + f" band_rows_mb={band_bytes / 2**20:.0f} | one core, docs/s: "
        + " ".join(f"{k}={v:.0f}" for k, v in kernels.items())
    )


def with_ray(workers: int, fn):
    import ray

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    for attempt in range(3):  # a loaded machine can time a node's start-up out
        try:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            break
        except Exception as err:
            print(f"  ray.init failed ({err}); again", flush=True)
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        return fn()
    finally:
        ray.shutdown()


def main(argv=None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=100_000, help="documents, planted copies included (default 100000)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="local Ray CPUs, one run each (default 1 2 4)"
    )
    p.add_argument("--stages", action="store_true", help="also time each stage (workers=1) and the per-row kernels")
    args = p.parse_args(argv)
    out = []

    def emit(line: str) -> None:
        out.append(line)
        print(line, flush=True)

    start = time.perf_counter()
    corpus = Corpus(args.docs)
    due = int((corpus.pair_jaccard >= CFG.threshold).sum())
    j = corpus.pair_jaccard
    print(
        f"corpus: {args.docs} documents from {SITE} ({corpus.spliced} spliced), {len(corpus.pairs)} planted copies, "
        f"Jaccard {j.min():.2f}-{j.max():.2f} (median {np.median(j):.2f}), {due} at or above {CFG.threshold}; "
        f"built in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    table = corpus.table()

    start = time.perf_counter()
    base_dups = datasketch_dedup(corpus.ids, corpus.texts)
    base_s = time.perf_counter() - start
    base_rate = args.docs / base_s
    recall, precision = score(corpus, base_dups, base_dups)
    emit(
        f"dedup-baseline: docs={args.docs} datasketch_docs_s={base_rate:.0f} recall={recall:.3f} "
        f"precision={precision:.3f} reported={len(base_dups)}"
    )
    print(f"  datasketch: {base_s:.1f} s; {_load()}", flush=True)

    cores = os.cpu_count() or 1
    memory = {}
    for workers in args.workers:

        def run():
            ours(corpus.table(WARMUP_DOCS))  # worker processes up, modules imported
            return ours(table)

        seconds, dups, kept, rss = with_ray(workers, run)
        root_of = dict(zip(dups.column("id").to_pylist(), dups.column("cluster").to_pylist(), strict=False))
        duplicate_of = dict(zip(dups.column("id").to_pylist(), dups.column("duplicate_of").to_pylist(), strict=False))
        recall, precision = score(corpus, duplicate_of, root_of)
        rate = args.docs / seconds
        note = f" (oversubscribes {cores} cores)" if workers > cores else ""
        emit(
            f"dedup: docs={args.docs} workers={workers} ours_docs_s={rate:.0f} datasketch_docs_s={base_rate:.0f} "
            f"speedup={rate / base_rate:.2f} recall={recall:.3f} precision={precision:.3f}{note}"
        )
        print(f"  ours: {seconds:.1f} s, kept {kept}, reported {len(duplicate_of)}; {_load()}", flush=True)
        if workers == 2:
            memory[args.docs] = rss

    quarter = args.docs // 4
    memory[quarter] = with_ray(2, lambda: (ours(corpus.table(WARMUP_DOCS)), ours(corpus.table(quarter)))[1][3])
    for n in sorted(memory):
        rss = memory[n]
        emit(
            f"dedup-memory: docs={n} workers=2 driver_rss_peak_mb={rss.peak / 2**20:.0f} "
            f"driver_rss_growth_mb={(rss.peak - rss.start) / 2**20:.0f}"
        )
    if args.stages:
        emit(with_ray(1, lambda: (ours(corpus.table(WARMUP_DOCS)), stages(table))[1]))
    return out


def _load() -> str:
    """Other work on the machine skews every number: say how much there was."""
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


if __name__ == "__main__":
    main()
