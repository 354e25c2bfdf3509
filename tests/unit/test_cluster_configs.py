"""The cluster launcher YAMLs pass Ray's own schema, offline, with a CPU head that runs no work
and GPU and CPU worker types that scale from zero, each GPU type on demand and as spot (the same
resources, the on-demand one first) with the run's storage on the cloud's object store; the RayJob
uses only field names of KubeRay's RayJob / RayCluster types (ray-project/kuberay
`ray-operator/apis/ray/v1/rayjob_types.go` and `raycluster_types.go`, the v1 API) and runs the
main job with storage on an object store."""

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.support.files import ROOT

# KubeRay v1's json field names, as its Go types declare them.
RAYJOB_SPEC = {
    "activeDeadlineSeconds",
    "backoffLimit",
    "rayClusterSpec",
    "submitterPodTemplate",
    "metadata",
    "clusterSelector",
    "submitterConfig",
    "managedBy",
    "deletionStrategy",
    "entrypoint",
    "runtimeEnvYAML",
    "jobId",
    "submissionMode",
    "entrypointResources",
    "entrypointNumCpus",
    "entrypointNumGpus",
    "ttlSecondsAfterFinished",
    "shutdownAfterJobFinishes",
    "suspend",
    "schedule",
}
RAYCLUSTER_SPEC = {
    "suspend",
    "managedBy",
    "autoscalerOptions",
    "headServiceAnnotations",
    "enableInTreeAutoscaling",
    "gcsFaultToleranceOptions",
    "headGroupSpec",
    "rayVersion",
    "workerGroupSpecs",
}
HEAD_GROUP = {"serviceType", "headService", "enableIngress", "rayStartParams", "template"}
WORKER_GROUP = {
    "suspend",
    "groupName",
    "replicas",
    "minReplicas",
    "maxReplicas",
    "idleTimeoutSeconds",
    "rayStartParams",
    "template",
    "scaleStrategy",
    "numOfHosts",
}
AUTOSCALER = {
    "image",
    "imagePullPolicy",
    "resources",
    "env",
    "envFrom",
    "volumeMounts",
    "securityContext",
    "idleTimeoutSeconds",
    "upscalingMode",
    "version",
}


def _spot_market(node_config: dict) -> str | None:
    """How a node type is bought cheaply, or None on demand: EC2's spot market (RunInstances'
    InstanceMarketOptions) or a Compute Engine Spot / preemptible VM (instances.insert's
    `scheduling`, an object, never a list)."""
    scheduling = node_config.get("scheduling", {})
    assert isinstance(scheduling, dict)
    if node_config.get("InstanceMarketOptions", {}).get("MarketType") == "spot":
        return "spot"
    if scheduling.get("provisioningModel") == "SPOT" or scheduling.get("preemptible") is True:
        return "SPOT"
    return None


def _machine(node_config: dict) -> dict:
    """A node config less how it is bought."""
    return {k: v for k, v in node_config.items() if k not in ("InstanceMarketOptions", "scheduling")}


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_launcher_config_is_valid(name):
    config = yaml.safe_load((ROOT / "cluster" / name).read_text())
    validate_config(prepare_config(config))
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # the head's disk is nobody's storage
    workers = [t for n, t in types.items() if n != config["head_node_type"]]
    assert len(workers) >= 2 and all(t["min_workers"] == 0 and t["max_workers"] > 0 for t in workers)
    assert any("[gpu]" in c for c in config["setup_commands"])
    started = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "API_KEY" in started and "runtime_env" not in started  # secrets through ray start's environment


@pytest.mark.parametrize(("name", "market", "bucket"), [("aws.yaml", "spot", "s3://"), ("gcp.yaml", "SPOT", "gs://")])
def test_launcher_config_offers_spot_twins_of_its_gpu_nodes(name, market, bucket):
    text = (ROOT / "cluster" / name).read_text()
    config = prepare_config(yaml.safe_load(text))
    types = config["available_node_types"]
    assert _spot_market(types[config["head_node_type"]]["node_config"]) is None  # the head holds the run
    spot = {n: t for n, t in types.items() if _spot_market(t["node_config"])}
    assert spot and all(_spot_market(t["node_config"]) == market for t in spot.values())
    for spot_name, t in spot.items():
        assert spot_name.endswith("_spot") and t["min_workers"] == 0 and t["max_workers"] > 0
        twin = types[spot_name.removesuffix("_spot")]  # the same machine on demand, either serves a request
        assert _spot_market(twin["node_config"]) is None and twin["max_workers"] > 0
        assert t["resources"] == twin["resources"] and _machine(t["node_config"]) == _machine(twin["node_config"])
        assert twin.get("priority", 0) > t.get("priority", 0)  # on demand first: spot may be missing
    for t in types.values():  # a GCE GPU VM, spot or not, stops for host maintenance
        if "guestAccelerators" in t["node_config"]:
            assert t["node_config"]["scheduling"]["onHostMaintenance"] == "TERMINATE"
    # a reclaimed node's run resumes from its checkpoint: the run and the store on the object store
    assert f"output_dir={bucket}" in text and f"store={bucket}" in text and "--resume" in text


def test_rayjob_uses_kuberay_field_names_and_runs_the_main_job():
    job = yaml.safe_load((ROOT / "cluster" / "kuberay-rayjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]
    assert set(spec) <= RAYJOB_SPEC and spec["entrypoint"].startswith("python pipelines/spec_decode.py")
    assert "output_dir=s3://" in spec["entrypoint"] and "runtimeEnvYAML" not in spec
    cluster = spec["rayClusterSpec"]
    assert set(cluster) <= RAYCLUSTER_SPEC and cluster["enableInTreeAutoscaling"] is True
    assert set(cluster["autoscalerOptions"]) <= AUTOSCALER and set(cluster["headGroupSpec"]) <= HEAD_GROUP
    for group in cluster["workerGroupSpecs"]:
        assert set(group) <= WORKER_GROUP and group["minReplicas"] == 0 and group["maxReplicas"] > 0
        env = group["template"]["spec"]["containers"][0]["env"]
        assert all("secretKeyRef" in e["valueFrom"] for e in env)
