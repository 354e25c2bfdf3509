from pydantic import Field

from arctic_ray.config.base import StrictConfig


class DedupConfig(StrictConfig):
    enabled: bool = True
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    """Estimated Jaccard similarity at or above which two texts are near-duplicates."""

    num_perm: int = Field(default=128, ge=16)
    """MinHash permutations: more is more exact and slower."""

    ngram: int = Field(default=5, ge=1)
    """Shingle size, in words."""

    field: str = "completion"
    """Text column compared ("completion" or "prompt_text")."""
