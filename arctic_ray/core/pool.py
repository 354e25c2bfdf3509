"""The size of a Ray Data actor pool in a recipe: a fixed number, or [min, max] for a pool that
autoscales between them."""

from typing import Annotated

from pydantic import AfterValidator


def bounds(size: int | tuple[int, int]) -> tuple[int, int]:
    """(min, max) actors of a pool size."""
    return (size, size) if isinstance(size, int) else size


def _checked(value: int | tuple[int, int]) -> int | tuple[int, int]:
    low, high = bounds(value)
    if low < 1 or high < low:
        raise ValueError(f"needs 1 <= min <= max, got {value}")
    return value


PoolSize = Annotated[int | tuple[int, int], AfterValidator(_checked)]
