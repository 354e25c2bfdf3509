"""A new method is one folder: a method defined in tests/support/example_method registers a trainer
and a job and runs a training step on real Ray Train with no edit to the package."""

from arctic_ray.job_table import job_names, run_recipe, validate_recipe


def test_a_method_outside_the_package_is_one_folder(ray_local, tmp_path):
    import tests.support.example_method  # noqa: F401  (registers its trainer and its job)

    assert "line_fit" in job_names()
    recipe = validate_recipe(
        {
            "type": "line_fit",
            "output_dir": str(tmp_path),
            "epochs": 20,
            "micro_batch_size": 8,
            "optimizer": {"lr": 0.1},
            "scheduler": {"name": "constant", "warmup_ratio": None},
            "log_every": 10,
        }
    )
    metrics = run_recipe(recipe)
    train = metrics["train"]
    assert train["steps"] == 20 * 64 // (8 * 2)
    assert abs(train["slope"] - 3.0) < abs(0.0 - 3.0) / 2  # it learned: halfway there at least
    assert train["history"][-1]["loss"] < train["history"][0]["loss"]
