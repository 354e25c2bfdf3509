"""The cluster launcher YAMLs pass Ray's own schema, offline; the RayJob runs the main job."""

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_launcher_config_is_valid(name):
    config = yaml.safe_load((ROOT / "cluster" / name).read_text())
    validate_config(prepare_config(config))
    workers = config["available_node_types"]
    assert any(t.get("min_workers") == 0 and t.get("max_workers", 0) > 0 for t in workers.values())


def test_rayjob_runs_the_main_job():
    job = yaml.safe_load((ROOT / "cluster" / "kuberay-rayjob.yaml").read_text())
    assert job["kind"] == "RayJob"
    assert job["spec"]["entrypoint"].startswith("python pipelines/spec_decode.py")
    assert job["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] is True
