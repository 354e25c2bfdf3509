"""The engine host runs calls in turn in one process; a call that fails in a used host runs again
in a fresh one (vLLM's per-process state can make a later engine start fail), a call that fails
in a fresh host is the caller's error."""

import os

import pytest
import ray.exceptions

from arctic_ray.engines.vllm.host import EngineSeries

RAN = []  # module state of the host process: what a used process keeps


def pid_after_a_first_call(tag: str) -> tuple[int, str]:
    if RAN:
        raise RuntimeError("this process has run a call before")  # as a later engine start may
    RAN.append(tag)
    return os.getpid(), tag


def the_pid(_tag: str) -> int:
    return os.getpid()


def always_fails(_tag: str) -> None:
    raise ValueError("no engine for this")


def test_calls_share_a_process_and_a_call_that_fails_there_runs_in_a_fresh_one(ray_local):
    series = EngineSeries({"num_cpus": 1})
    try:
        first = series.call(the_pid, "a")
        assert series.call(the_pid, "b") == first  # one process for both
        pid, tag = series.call(pid_after_a_first_call, "c")  # fine: the module's first call there
        assert pid == first and tag == "c"
        again, tag = series.call(pid_after_a_first_call, "d")  # fails there, then runs fresh
        assert again != first and tag == "d"
        with pytest.raises(ray.exceptions.RayTaskError, match="no engine for this"):
            series.call(always_fails, "e")  # in a used host, then a fresh one: the caller's error
        assert series.call(the_pid, "f") not in (first, again)  # a new host after the failure
    finally:
        series.close()
