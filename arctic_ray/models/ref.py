"""A model as a run hands it to other processes: its name and the content identity the driver
planned with. Actors, tasks and training workers resolve the name where they run
(`resolve.checked_model`), so a path of the driver's machine never travels."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from arctic_ray.models.identity import model_identity
from arctic_ray.models.resolve import checked_model, model_files


@dataclass(frozen=True)
class ModelRef:
    name: str
    key: str
    """`model_identity(...)["store_key"]`: name, weights, config and tokenizer digests."""
    identity: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, name: str) -> ModelRef:
        """In the driver: the identity from the model's config and tokenizer (and, for a model
        not on the Hub, its weights), without loading it."""
        identity = model_identity(model_files(name), name)
        return cls(name, identity["store_key"], identity)

    def path(self) -> str:
        """The complete model on this node, checked against the planned identity."""
        return _checked(self.name, self.key)

    def files(self) -> str:
        """Config and tokenizer on this node (all a tokenizing task needs)."""
        return model_files(self.name)


@lru_cache(maxsize=8)
def _checked(name: str, key: str) -> str:  # once per process: hashing a model's files is not free
    return checked_model(name, key)
