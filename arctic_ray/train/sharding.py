"""How datasets reach the training workers.

A dataset of known size is split once into fixed, equal shards (`Dataset.split`): every epoch a
rank reads the same rows, so what it cached about them in the first epoch (a frozen base's hidden
states) serves every later one; a streaming split would deal rows to ranks afresh each epoch.
A stream of unknown length is split `equal=False`: an even split must hold rows back until it can
balance them, which stalls a producer that waits for the trainer to consume (the teacher's bounded
buffer). The shared loop keeps ranks in lockstep either way. Sets every rank reads whole (the
eval set) are not split."""

from __future__ import annotations

from ray.train import DataConfig


class ShardingDataConfig(DataConfig):
    def __init__(self, fixed: list[str], streams: list[str]):
        super().__init__(datasets_to_split=[])
        self.fixed, self.streams = set(fixed), set(streams)

    def configure(self, datasets, world_size, worker_handles, worker_node_ids, **kwargs):
        whole = {name: ds for name, ds in datasets.items() if name not in self.fixed | self.streams}
        output = super().configure(whole, world_size, worker_handles, worker_node_ids, **kwargs)
        for name in self.fixed & set(datasets):
            shards = datasets[name].split(world_size, equal=True, locality_hints=worker_handles)
            for i, shard in enumerate(shards):
                output[i][name] = shard.iterator()
        for name in self.streams & set(datasets):
            ds = datasets[name].copy(datasets[name])
            ds.set_name(name)
            ds.context.execution_options = self._resolve_execution_options(name)
            # no locality hints: the splitter would hold blocks back waiting for a local consumer
            for i, split in enumerate(ds.streaming_split(world_size, equal=False)):
                output[i][name] = split
        return output
