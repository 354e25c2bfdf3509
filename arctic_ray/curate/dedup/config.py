from typing import Literal

from pydantic import Field

from arctic_ray.core.config import StrictConfig


class DedupConfig(StrictConfig):
    enabled: bool = True
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    """Estimated Jaccard similarity at or above which two texts are near-duplicates."""

    num_perm: int = Field(default=128, ge=16)
    """MinHash permutations: more is more exact and slower."""

    false_negative_weight: float = Field(default=0.9, gt=0, lt=1)
    """Weight of a missed pair against a false candidate when the LSH bands are chosen
    (datasketch's optimal-parameter computation, whose default is 0.5). Candidates are verified,
    so a false one costs a comparison while a missed one is a duplicate kept: 0.9 finds 92% of
    pairs at exactly the threshold (0.5: 44%)."""

    verify_margin: float = Field(default=1.5, ge=0)
    """A candidate pair is a duplicate when its estimated Jaccard is at least the threshold minus
    this many standard errors of the estimate there (sqrt(t(1-t)/num_perm): 0.04 at 0.7 and 128
    permutations); without it, half the pairs at the threshold would be rejected by noise."""

    @property
    def verify_threshold(self) -> float:
        t = self.threshold
        return max(0.0, t - self.verify_margin * (t * (1 - t) / self.num_perm) ** 0.5)

    seed: int = 1
    """Seed of the permutations (datasketch's default)."""

    ngram: int = Field(default=5, ge=1)
    """Shingle size, in words or characters (`shingle`)."""

    shingle: Literal["word", "char"] = "word"
    """Shingles of `ngram` words or of `ngram` characters."""

    field: str | list[str] = "completion"
    """Text compared: a string column ("completion", "prompt_text"), a chat column
    ("messages": its contents joined), or several columns joined (["messages", "completion"]
    for the whole conversation)."""

    survivor_score: str | None = None
    """Column whose highest value survives in each group of duplicates (a judge score); rows
    without a value come last, ties go to the smallest id. None: the smallest id survives."""

    max_cluster_size: int = Field(default=1000, ge=2)
    """A group of near-duplicates larger than this is reported, and its rows kept unless
    `drop_giant_clusters`: chains of small edits can join unrelated texts."""

    drop_giant_clusters: bool = False

    local_limit: int = Field(default=1_000_000, ge=0)
    """Verified pairs (and removed rows) up to which one process finds the groups and tags the
    rows; above it both run as Ray Data shuffles."""

    shuffle: Literal["sort", "hash"] = "sort"
    """Ray Data shuffle of every dedup groupby (exact keys, bands, components, the id join and
    the repeated-id check): "sort" (plain Ray tasks, quick to start) or "hash" (Ray Data's
    default shuffle v2, for inputs far beyond the object store)."""

    shuffle_partitions: int | None = Field(default=None, ge=1)
    """Partitions of the band shuffle (`hash`; the `sort` shuffle has a reducer per input block);
    None: twice the cluster's CPUs."""
