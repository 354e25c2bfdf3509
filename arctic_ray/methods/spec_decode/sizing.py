"""The main job's blocks sized from the cluster (`core/sizing.py`) where the recipe leaves them
out: the training workers, the engine pool and the teacher's share."""

from __future__ import annotations

from arctic_ray.core.cluster import ClusterView, current_cluster
from arctic_ray.core.sizing import fill_unset, plan
from arctic_ray.methods.spec_decode.teacher.placement import PlacementError


def sized(recipe):
    view = current_cluster()
    p = plan(view, online=recipe.teacher.mode == "online")
    print("[arctic_ray] resource plan (fields the recipe sets win):\n  " + "\n  ".join(p.lines()), flush=True)
    workers = fill_unset(
        recipe.workers, num_workers=p.workers, cpus_per_worker=p.cpus_per_worker, gpus_per_worker=p.gpus_per_worker
    )
    update = {"workers": workers}
    if recipe.synth.loads_weights:  # a local engine pool (an API backend has no devices to size)
        pool = p.engines[0] if p.engines[0] == p.engines[1] else p.engines
        update["synth"] = fill_unset(
            recipe.synth,
            concurrency=pool,
            cpus_per_engine=p.cpus_per_engine,
            gpus_per_engine=p.gpus_per_engine,
            gpu_memory_utilization=p.engine_memory,
        )
    update["teacher"] = fill_unset(
        recipe.teacher, cpus=p.teacher_cpus, gpus=p.teacher_gpus, gpu_memory_utilization=p.teacher_memory
    )
    sized = recipe.model_copy(update=update)
    check_fits(sized, view)
    return sized


def check_fits(recipe, view: ClusterView) -> None:
    """Stop at once, with the reason, when no node there is or can be holds what the recipe
    asks for (rather than waiting on the autoscaler for a node that will never come)."""
    w = recipe.workers
    asks = [("a training worker", w.cpus_per_worker, w.gpus_per_worker)]
    if recipe.teacher.mode == "online":
        t = recipe.teacher
        asks.append(
            (
                f"the teacher beside {w.num_workers} training workers",
                t.cpus + w.num_workers * w.cpus_per_worker,
                t.gpus + w.num_workers * w.gpus_per_worker,
            )
        )
    elif recipe.synth.loads_weights:
        asks.append(("a vLLM engine", recipe.synth.cpus_per_engine, recipe.synth.gpus_per_engine))
    for what, cpus, gpus in asks:
        if view.types_known and not view.fits(cpus, gpus):
            have = ", ".join(f"{s.cpus:g} CPUs/{s.gpus:g} GPUs" for s in view.shapes) or "no node"
            raise PlacementError(
                f"{what} needs one node with {cpus:g} CPUs and {gpus:g} GPUs; "
                f"this cluster's nodes and node types offer {have}"
                + (
                    " (a GPU recipe on a machine without GPUs: run it on a GPU cluster, cluster/*.yaml)"
                    if gpus and not view.ceiling("gpus")
                    else ""
                )
            )
