"""Callbacks around trainer methods: a pre-callback changes the arguments, a post-callback the
result, a subclass's override is wrapped too, and its `super()` call fires them once."""

from arctic_ray.train.callbacks import Callback, CallbackList
from arctic_ray.train.trainer import Trainer


class Base(Trainer):  # no `name`: kept out of the registry
    def loss(self, batch):
        return batch * 10, {}


class Override(Base):
    def loss(self, batch):
        value, extra = super().loss(batch)
        return value + 1, extra


class Doubling(Callback):
    def __init__(self):
        self.calls = []

    def pre_loss(self, trainer, batch):
        self.calls.append(("pre", batch))
        return batch * 2

    def post_loss(self, trainer, result):
        self.calls.append(("post", result[0]))
        return result[0] + 0.5, {"seen": True}


def trainer_with(cls, callbacks):
    trainer = cls.__new__(cls)  # no Ray Train context needed for the method wrapping
    trainer.callbacks = CallbackList(callbacks)
    return trainer


def test_callbacks_change_inputs_and_outputs_and_survive_overrides():
    cb = Doubling()
    assert trainer_with(Base, [cb]).loss(3) == (60.5, {"seen": True})
    assert cb.calls == [("pre", 3), ("post", 60)]

    cb = Doubling()
    assert trainer_with(Override, [cb]).loss(3) == (61.5, {"seen": True})  # 3 -> 6 -> 60 + 1 -> + 0.5
    assert cb.calls == [("pre", 3), ("post", 61)]  # once, around the outermost call

    assert trainer_with(Override, []).loss(3) == (31, {})
