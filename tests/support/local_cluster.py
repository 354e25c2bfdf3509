"""A Ray cluster of several nodes on this machine, for the scale-out tests: a head that runs no
work (0 CPUs, so every task and actor lands on a worker node), and worker nodes each started in a
mount namespace of its own with a tmpfs over the driver's directories (`hide`): a worker node
cannot read the driver's model cache or run directories, as on a real cluster. Each node gets its
own ARCTIC_RAY_CACHE and HF_HOME. `ray start --block` runs in a process group of its own, so
stopping a node touches only it (`ray stop` would end every Ray process on the machine)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.nodes: dict[str, subprocess.Popen] = {}

    def _start(self, args: list[str], env: dict, hide: list[str] = (), ip: str = "127.0.0.1") -> None:
        cmd = [RAY, "start", "--block", "--disable-usage-stats", f"--node-ip-address={ip}", *args]
        if hide:  # a mount namespace of its own, with the driver's paths covered
            mounts = " && ".join(f"mount -t tmpfs tmpfs {shlex.quote(p)}" for p in hide)
            cmd = ["unshare", "-m", "sh", "-c", f"{mounts} && exec {shlex.join(cmd)}"]
        log = (self.root / f"node-{len(self.procs)}.log").open("w")
        self.procs.append(
            subprocess.Popen(
                cmd, env={**os.environ, **self.env, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def start_head(self, extra: list[str] = (), env: dict | None = None, ip: str = "127.0.0.1") -> None:
        ports = [free_port() for _ in range(5)]
        self._start(
            [
                "--head",
                f"--port={self.port}",
                "--num-cpus=0",
                f"--temp-dir=/tmp/ray-mn-{os.getpid()}",
                "--include-dashboard=false",
                f"--dashboard-port={ports[4]}",
                f"--dashboard-agent-listen-port={ports[0]}",
                f"--dashboard-agent-grpc-port={ports[1]}",
                f"--metrics-export-port={ports[2]}",
                f"--runtime-env-agent-port={ports[3]}",
                *extra,
            ],
            env or {},
            ip=ip,
        )

    def add_worker(self, name: str, cpus: int, hide: list[str]) -> None:
        home = self.root / name
        env = {"ARCTIC_RAY_CACHE": str(home / "cache"), "HF_HOME": str(home / "hf")}
        ports = [free_port() for _ in range(3)]
        self._start(
            [
                f"--address={self.address}",
                f"--num-cpus={cpus}",
                f"--resources={json.dumps({name: 1})}",
                f"--dashboard-agent-listen-port={ports[0]}",
                f"--dashboard-agent-grpc-port={ports[1]}",
                f"--metrics-export-port={ports[2]}",
            ],
            env,
            hide,
        )
        self.nodes[name] = self.procs[-1]

    def kill_node(self, name: str) -> None:
        """The node as a crashed host or a preempted spot instance goes: its raylet and every
        process of its group SIGKILLed at once (its workers exit when their raylet is gone)."""
        proc = self.nodes.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def wait_for_nodes(self, n: int, timeout_s: float = 180) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import ray; ray.init(address='{self.address}', logging_level='ERROR', log_to_driver=False); "
                    "print('ALIVE', sum(1 for x in ray.nodes() if x['Alive']))",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
            )
            if (
                out.returncode == 0 and f"ALIVE {n}" in out.stdout.splitlines()
            ):  # the driver prints the autoscaler's events too
                return
            time.sleep(2)
        raise TimeoutError(f"the local cluster did not reach {n} nodes; logs in {self.root}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
