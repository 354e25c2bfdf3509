"""The engine loop when its engine fails mid-generation: a real vLLM engine (CPU, tiny model) broken
through vLLM's own logits-processor extension, as a faulty kernel or plugin would break it. The
engine runs in a Ray task of its own process, since vLLM's CPU worker patches torch globally."""

import ray

FAULT = "logits kernel fault"
DOOMED = 8  # max_tokens of the requests that break the engine


@ray.remote(max_calls=1)
def fault_scenario(model: str) -> dict:
    import asyncio

    from vllm import SamplingParams
    from vllm.v1.sample.logits_processor import LogitsProcessor

    from arctic_ray.engines.vllm.loop import EngineLoop
    from arctic_ray.engines.vllm.settings import VLLMEngineConfig, start_llm

    class FailsMidGeneration(LogitsProcessor):
        """Breaks the engine once a request asking for `DOOMED` tokens has two of them."""

        def __init__(self, vllm_config, device, is_pin_memory):
            self.doomed: list[list[int]] = []  # the output token lists vLLM keeps up to date

        def is_argmax_invariant(self) -> bool:
            return False  # else greedy requests skip it

        def update_state(self, batch_update) -> None:
            for _, params, _, output_ids in batch_update.added if batch_update else ():
                if params.max_tokens == DOOMED:
                    self.doomed.append(output_ids)

        def apply(self, logits):
            if any(len(ids) >= 2 for ids in self.doomed):
                raise RuntimeError(FAULT)
            return logits

    engine = VLLMEngineConfig(max_model_len=256, kv_cache_bytes=64 << 20, threads_per_engine=1)
    loop = EngineLoop(lambda: start_llm(model, engine, logits_processors=[FailsMidGeneration]))
    chat = [[{"role": "user", "content": "Count to ten."}]]

    def ask(max_tokens: int, n: int = 1):
        return loop.chat(chat * n, [SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)] * n)

    async def scenario() -> dict:
        served = await ask(3)  # served before the fault
        # A loop that lost a caller would hang here: the timeouts turn that into a failure.
        failing = await asyncio.wait_for(asyncio.gather(ask(DOOMED, 2), ask(3), return_exceptions=True), timeout=60)
        after = await asyncio.wait_for(asyncio.gather(ask(4), return_exceptions=True), timeout=30)
        return {
            "served_tokens": len(served[0].outputs[0].token_ids),
            "failing": [repr(r) for r in failing],
            "after": [repr(r) for r in after],
        }

    return asyncio.run(scenario())


def test_an_engine_that_fails_mid_step_fails_every_waiting_and_later_caller_with_its_error(ray_local, tiny_model):
    seen = ray.get(fault_scenario.remote(tiny_model))
    assert seen["served_tokens"] == 3
    # Both callers waiting on the engine hear why it failed; none hangs, none gets a half answer.
    assert len(seen["failing"]) == 2 and all(FAULT in r for r in seen["failing"])
    # A caller after the failure is answered at once with the same error.
    assert len(seen["after"]) == 1 and FAULT in seen["after"][0]
