"""A stage that stops because a part of the run died ends with one line (what died, the last
checkpoint, the command that goes on) and a `metrics.json` that says the same; an error that is
not a death passes through as it is."""

import json

import pytest

from arctic_ray.core.run_dir import JobRun
from arctic_ray.core.stops import Checkpoint, RunStopped, stopped_by


class Recipe:
    type = "spec_decode"

    def __init__(self, output_dir):
        self.output_dir = str(output_dir)

    def model_dump(self, mode):
        return {"type": self.type, "output_dir": self.output_dir}


class ActorDiedError(Exception):
    """Named as Ray names it: what died is read from type names and messages."""


def test_a_death_in_a_stage_is_one_line_and_a_metrics_entry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pipelines/ here: the command is the CLI's
    run = JobRun(Recipe(tmp_path / "runs"))
    died = ActorDiedError("The actor died unexpectedly before finishing this task.\n\tclass_name: TeacherActor")
    with pytest.raises(RunStopped) as stopped, run.stage("train"):
        try:
            raise died
        except ActorDiedError as err:
            raise RuntimeError("Training failed due to worker errors") from err
    line = str(stopped.value)
    assert "\n" not in line and "the teacher died (ActorDiedError: The actor died unexpectedly" in line
    assert line.endswith(
        f"no checkpoint yet (stored generations are kept); continue with: arctic-ray run --resume {run.dir}"
    )
    record = json.loads(run.at("metrics.json").read_text())["stopped"]
    assert record["what"] == "teacher" and record["message"] == line and record["checkpoint"] is None


def test_the_checkpoint_a_stop_carries_is_named(tmp_path, monkeypatch):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "spec_decode.py").write_text("")
    monkeypatch.chdir(tmp_path)
    run = JobRun(Recipe(tmp_path / "runs"))
    stop = RunStopped("node", "PreemptionError: preempted", Checkpoint(15, "s3://b/run/checkpoint_1"))
    with pytest.raises(RunStopped) as stopped, run.stage("train"):
        raise stop
    assert str(stopped.value).endswith(
        f"last checkpoint: step 15 at s3://b/run/checkpoint_1; continue with: python pipelines/spec_decode.py "
        f"--resume {run.dir}"
    )
    assert json.loads(run.at("metrics.json").read_text())["stopped"]["checkpoint_step"] == 15


def test_an_error_that_is_not_a_death_is_raised_as_it_is(tmp_path):
    run = JobRun(Recipe(tmp_path / "runs"))
    with pytest.raises(ValueError, match="bad row"), run.stage("read"):
        raise ValueError("bad row")
    assert stopped_by(KeyError("x")) is None and not run.at("metrics.json").exists()


class NodeLossJob:
    """A job whose first `losses` runs lose their node in the train stage (as `JobRun.stage`
    reports it), then finishes; it records the run directory each run was given."""

    def __init__(self, tmp_path, losses: int, what: str = "node"):
        self.tmp_path, self.losses, self.what, self.given = tmp_path, losses, what, []

    def run(self, recipe, run_dir):
        self.given.append(run_dir)
        run = JobRun(recipe, run_dir)
        if len(self.given) <= self.losses:
            with run.stage("train"):
                raise RunStopped(self.what, "ActorDiedError: its node has died", Checkpoint(4, f"{run.dir}/ckpt"))
        return run.finish({}, lambda m: "")


def _resuming(tmp_path, monkeypatch, job, limit: int):
    from arctic_ray import pipeline
    from arctic_ray.core.runtime import RayConfig

    monkeypatch.setattr(pipeline, "lookup_job", lambda _type: job)
    recipe = Recipe(tmp_path / "runs")
    recipe.ray = RayConfig(resume_after_node_loss=limit)
    return pipeline.run_resuming_after_node_loss(recipe, None)


def test_a_run_that_loses_a_node_resumes_itself_from_its_run_directory_and_says_so(tmp_path, monkeypatch):
    job = NodeLossJob(tmp_path, losses=2)
    metrics = _resuming(tmp_path, monkeypatch, job, limit=2)
    first = job.given[1]
    assert job.given == [None, first, first]  # the same run directory, resumed twice
    assert [s["what"] for s in metrics["resumed_after"]] == ["node", "node"]
    assert metrics["resumed_after"][0]["checkpoint_step"] == 4 and "stopped" not in metrics


def test_past_its_limit_or_for_another_death_a_stop_is_raised(tmp_path, monkeypatch):
    with pytest.raises(RunStopped, match="the node died"):
        _resuming(tmp_path, monkeypatch, NodeLossJob(tmp_path, losses=2), limit=1)
    teacher = NodeLossJob(tmp_path, losses=1, what="teacher")
    with pytest.raises(RunStopped, match="the teacher died"):
        _resuming(tmp_path, monkeypatch, teacher, limit=2)
    assert teacher.given == [None]
