"""The teacher's captured states, as its training rows take them: a whole generation (whose last
token was never fed back), a row cut at the training length, a capture that is not the row's."""

import numpy as np

from arctic_ray.engines.vllm.hidden_states import RequestStates
from arctic_ray.methods.spec_decode.teacher.one_pass import KEPT_GENERATIONS, CapturedFeatures


def capture(tokens: list[int], recomputed: int = 0) -> RequestStates:
    """What the engine computed for a generation of `tokens`: every position but the last."""
    n = len(tokens) - 1
    return RequestStates(np.array(tokens[:n]), np.arange(n * 3, dtype=np.float32).reshape(n, 3) + 1, recomputed)


def test_a_whole_generation_gets_a_zero_state_for_its_last_token_and_a_cut_row_its_prefix():
    captured = CapturedFeatures()
    whole, longer = [5, 6, 7, 8], [1, 2, 3, 4, 5, 6]
    captured.add([(whole, capture(whole, recomputed=2)), (longer, capture(longer))])
    got = captured.take(whole)
    assert got is not None and got.shape == (4, 3)
    np.testing.assert_array_equal(got[:3], capture(whole).features)
    assert not got[3].any()
    cut = captured.take(longer[:4])
    assert cut is not None
    np.testing.assert_array_equal(cut, capture(longer).features[:4])
    assert captured.take(whole) is None and captured.take(longer) is None  # each taken once
    assert captured.recomputed == 2


def test_a_capture_of_other_tokens_is_not_kept_and_old_ones_are_dropped():
    captured = CapturedFeatures()
    tokens = [9, 8, 7]
    captured.add([(tokens, capture([9, 1, 7]))])  # the engine's ids differ from the row's
    assert captured.take(tokens) is None
    captured.add([(tokens, capture(tokens))])
    for _ in range(KEPT_GENERATIONS):
        captured.add([])
    assert captured.take(tokens) is None  # its row never asked: dropped, not kept forever
