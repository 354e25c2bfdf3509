"""Scale from zero with Ray's own autoscaler (its fake multi-node provider, which starts and stops
real raylets): the head runs no work and the one worker node type is at zero. The main job with
the online teacher asks for a node through its placement group, the autoscaler starts one, the
teacher and both trainers run on it, the job finishes, and the idle node is scaled down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.support.files import ROOT
from tests.support.local_cluster import LocalCluster
from tests.support.spec_decode_runs import FAST


def fake_provider_config(gcs_address: str) -> dict:
    return {
        "cluster_name": "arctic-ray-fake",
        "max_workers": 1,
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": 0.1,
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "gcs_address": gcs_address,
        },
        "auth": {"ssh_user": "ubuntu"},
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0},
            "cpu_worker": {"resources": {"CPU": 6}, "node_config": {}, "min_workers": 0, "max_workers": 1},
        },
        "head_node_type": "ray.head.default",
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


def alive_workers(cluster: LocalCluster) -> int:
    code = (
        f"import ray; ray.init(address='{cluster.address}', logging_level='ERROR', log_to_driver=False); "
        "print('ALIVE', sum(1 for n in ray.nodes() if n['Alive'] and n['Resources'].get('CPU', 0) > 0))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **cluster.env}, timeout=120
    )
    # the driver also prints the autoscaler's events: read the marked line
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("ALIVE ")]
    return int(line.split()[1])


def test_the_online_job_scales_a_node_up_from_zero_and_back_down(tmp_path, session_cache):
    import ray._private.services

    root = Path("/tmp") / f"as-{os.getpid()}"
    root.mkdir(exist_ok=True)
    cluster = LocalCluster(
        root, {"RAY_AUTH_MODE": "disabled", "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
    )
    ip = ray._private.services.get_node_ip_address()
    cluster.address = f"{ip}:{cluster.port}"
    config = root / "autoscaling.yaml"
    config.write_text(yaml.safe_dump(fake_provider_config(cluster.address)))
    cluster.start_head(extra=[f"--autoscaling-config={config}"], ip=ip)
    try:
        cluster.wait_for_nodes(1)
        assert alive_workers(cluster) == 0  # at zero
        args = [
            a
            for item in [
                *FAST,
                f"output_dir={tmp_path / 'runs'}",
                f"store={tmp_path / 'store'}",
                "teacher.mode=online",
                "max_steps=4",
                "eval.vllm=false",
                "teacher.placement_timeout_s=300",
            ]
            for a in ("--set", item)
        ]
        env = {**os.environ, **cluster.env, "RAY_ADDRESS": cluster.address, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.run(
            [sys.executable, "pipelines/spec_decode.py", "--tiny", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        (tmp_path / "job.log").write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
        (run,) = list((tmp_path / "runs").iterdir())
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["train"]["steps"] == 4 and metrics["train"]["teacher"]["consumed"] == 4 * 2 * 8
        monitor = "".join(
            p.read_text(errors="replace") for p in Path(f"/tmp/ray-mn-{os.getpid()}").glob("session_*/logs/monitor.*")
        )
        assert "cpu_worker" in monitor and "Adding 1 node" in monitor, monitor[-3000:]  # the autoscaler started it
        deadline = time.time() + 240
        while alive_workers(cluster) and time.time() < deadline:  # idle: scaled back down
            time.sleep(3)
        assert alive_workers(cluster) == 0
    finally:
        cluster.stop()
