"""On a real local cluster: recipe fields win over the resource plan, and a GPU recipe on a cluster
without GPUs stops at once with the reason."""

import pytest


def test_recipe_fields_win_and_a_gpu_recipe_without_gpus_stops_at_once(ray_local):
    from arctic_ray.core.errors import ArcticRayError
    from arctic_ray.job_table import load_recipe
    from arctic_ray.methods.spec_decode.sizing import sized
    from tests.support.files import ROOT

    laptop = sized(load_recipe(ROOT / "examples/spec_decode_online.yaml"))
    assert laptop.workers.cpus_per_worker == 0.75 and laptop.teacher.cpus == 0.5  # as the recipe says
    assert laptop.workers.num_workers == 2 and laptop.teacher.gpus == 0  # planned: nothing set, CPU sizes
    with pytest.raises(
        ArcticRayError,
        match=(
            "needs one node with 8 CPUs and 1 GPUs; this cluster.s nodes and node types offer 8 CPUs/0 GPUs "
            ".a GPU recipe on a machine without GPUs"
        ),
    ):
        sized(load_recipe(ROOT / "examples/spec_decode_gpu.yaml"))
