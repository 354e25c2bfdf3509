"""How datasets reach the training workers. A dataset of known size is split evenly
(`equal=True`); a stream of unknown length is split `equal=False`: an even split must hold rows
back until it can balance them, which stalls a producer that waits for the trainer to consume
(the teacher's bounded buffer). The shared loop keeps ranks in lockstep either way."""

from __future__ import annotations

import copy

from ray.train import DataConfig


class StreamAwareDataConfig(DataConfig):
    def __init__(self, datasets_to_split: list[str], streams: list[str]):
        super().__init__(datasets_to_split=[d for d in datasets_to_split if d not in streams])
        self.streams = set(streams)

    def configure(self, datasets, world_size, worker_handles, worker_node_ids, **kwargs):
        rest = {name: ds for name, ds in datasets.items() if name not in self.streams}
        output = super().configure(rest, world_size, worker_handles, worker_node_ids, **kwargs)
        for name in self.streams & set(datasets):
            ds = datasets[name].copy(datasets[name])
            ds.set_name(name)
            ds.context.execution_options = copy.deepcopy(self._resolve_execution_options(name))
            # no locality hints: the splitter would hold blocks back waiting for a local consumer
            for i, split in enumerate(ds.streaming_split(world_size, equal=False)):
                output[i][name] = split
        return output
