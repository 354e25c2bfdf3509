"""What a forward really did, measured rather than assumed: the tokens each layer's MLP was
called on (forward hooks on the modules themselves), and the floating-point operations of a
call as PyTorch's own FLOP counter sees its matmuls and attention."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode


@contextmanager
def layer_tokens(model) -> Iterator[Counter]:
    """Counter layer index -> tokens its MLP processed while the block runs."""
    seen: Counter = Counter()
    handles = []
    for i, layer in enumerate(model.layers):

        def hook(module, args, output, i=i):
            seen[i] += args[0].shape[:-1].numel()

        handles.append(layer.mlp.register_forward_hook(hook))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of `fn` (matmuls, linear layers, attention)."""
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fn()
    return counter.get_total_flops()
