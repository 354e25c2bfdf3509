"""The cluster launcher YAMLs pass Ray's own schema, offline, with a CPU head that runs no work
and GPU and CPU worker types that scale from zero; the RayJob uses only field names of KubeRay's
RayJob / RayCluster types (ray-project/kuberay `ray-operator/apis/ray/v1/rayjob_types.go` and
`raycluster_types.go`, the v1 API) and runs the main job with storage on an object store."""

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
