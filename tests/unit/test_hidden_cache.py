import torch

from arctic_ray.methods.spec_decode.hidden_cache import HiddenStateCache


class CountingBase:
    def __init__(self):
        self.rows_computed = 0

    def __call__(self, ids, attention):
        self.rows_computed += ids.shape[0]
        return (ids * attention).float()[..., None].repeat(1, 1, 3)


def test_repeated_rows_skip_the_base_forward():
    base, cache = CountingBase(), HiddenStateCache(1 << 20)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    full = torch.tensor([3, 3, 3])
    first = cache(base, ids, full)
    assert base.rows_computed == 3
    # a later epoch, rows in another order and mixed with a new one
    again = cache(base, ids[[2, 0]], full[:2])
    assert base.rows_computed == 3 and torch.equal(again, first[[2, 0]])
    mixed = cache(base, torch.tensor([[4, 5, 6], [1, 1, 1]]), full[:2])
    assert base.rows_computed == 4 and torch.equal(mixed[0], first[1])
    assert (cache.hits, cache.misses) == (3, 4)


def test_a_row_is_the_same_row_whatever_its_padding():
    base, cache = CountingBase(), HiddenStateCache(1 << 20)
    first = cache(base, torch.tensor([[1, 2, 0]]), torch.tensor([2]))
    wider = cache(base, torch.tensor([[1, 2, 0, 0, 0]]), torch.tensor([2]))  # in a batch with a longer row
    assert base.rows_computed == 1
    assert torch.equal(wider[0, :2], first[0, :2]) and not wider[0, 2:].any()
    other = cache(base, torch.tensor([[1, 2, 3]]), torch.tensor([3]))  # same prefix, more tokens
    assert base.rows_computed == 2 and other[0, 2].sum() > 0


def test_budget_bounds_memory_and_zero_disables():
    base, cache = CountingBase(), HiddenStateCache(budget_bytes=2 * 3 * 3 * 4)  # two rows of float32 [3, 3]
    ids = torch.arange(12).reshape(4, 3)
    full = torch.full((4,), 3)
    cache(base, ids, full)
    assert len(cache.store) == 2 and cache.used_bytes <= cache.budget_bytes
    off = HiddenStateCache(0)
    off(base, ids, full)
    off(base, ids, full)
    assert not off.store and base.rows_computed == 4 + 8
