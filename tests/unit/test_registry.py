import pytest

from arctic_ray.core.registry import Registered, UnknownBlockError, lookup, names, register


def test_subclasses_register_by_name():
    class Backend(Registered):
        kind = "test-backend"

    class Fast(Backend):
        name = "fast"

    assert lookup("test-backend", "fast") is Fast
    assert names("test-backend") == ["fast"]


def test_unknown_name_lists_what_exists():
    register("test-widget", "round", object())
    with pytest.raises(UnknownBlockError, match="unknown test-widget 'square'; registered test-widgets: round"):
        lookup("test-widget", "square")


def test_a_name_cannot_be_taken_twice():
    register("test-thing", "a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        register("test-thing", "a", 2)


def test_project_blocks_are_registered():
    import arctic_ray.models.resolve  # noqa: F401  (registers the built-in models)
    from arctic_ray.job_table import job_names

    assert "speculator" in names("trainer")
    assert "spec_decode" in job_names()
    assert "vllm" in names("synth_backend") and {"mlp", "eagle3"} <= set(names("speculator"))
    assert {"tiny", "tiny2", "smollm2-135m-instruct"} <= set(names("model"))
