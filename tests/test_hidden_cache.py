import torch

from arctic_ray.speculators.hidden_cache import HiddenStateCache


class CountingBase:
    def __init__(self):
        self.rows_computed = 0

    def __call__(self, ids, attention):
        self.rows_computed += ids.shape[0]
        return (ids * attention).float()[..., None].repeat(1, 1, 3)


def test_repeated_rows_skip_the_base_forward():
    base, cache = CountingBase(), HiddenStateCache(1 << 20)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    att = torch.ones_like(ids)
    first = cache(base, ids, att)
    assert base.rows_computed == 3
    # a later epoch, rows in another order and mixed with a new one
    again = cache(base, ids[[2, 0]], att[[2, 0]])
    assert base.rows_computed == 3 and torch.equal(again, first[[2, 0]])
    mixed = cache(base, torch.tensor([[4, 5, 6], [1, 1, 1]]), torch.ones(2, 3, dtype=torch.long))
    assert base.rows_computed == 4 and torch.equal(mixed[0], first[1])
    assert (cache.hits, cache.misses) == (3, 4)


def test_same_tokens_other_length_is_another_row():
    base, cache = CountingBase(), HiddenStateCache(1 << 20)
    ids = torch.tensor([[1, 2, 3], [1, 2, 3]])
    att = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out = cache(base, ids, att)
    assert base.rows_computed == 2 and not torch.equal(out[0], out[1])


def test_budget_bounds_memory_and_zero_disables():
    base, cache = CountingBase(), HiddenStateCache(budget_bytes=2 * 3 * 3 * 4)  # two rows of float32 [3, 3]
    ids = torch.arange(12).reshape(4, 3)
    cache(base, ids, torch.ones_like(ids))
    assert len(cache.store) == 2 and cache.used_bytes <= cache.budget_bytes
    off = HiddenStateCache(0)
    off(base, ids, torch.ones_like(ids))
    off(base, ids, torch.ones_like(ids))
    assert not off.store and base.rows_computed == 4 + 8
