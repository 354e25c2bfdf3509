import pytest

from arctic_ray.registry import Registered, UnknownBlockError, lookup, names, register


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
    import arctic_ray.jobs  # noqa: F401
    import arctic_ray.trainers  # noqa: F401

    import arctic_ray.models.resolve  # noqa: F401
    import arctic_ray.synth.vllm_stage  # noqa: F401

    assert "speculator" in names("trainer")
    assert "spec_decode" in names("job")
    assert "vllm" in names("synth_backend") and "mlp" in names("speculator")
    assert {"tiny", "smollm2-135m-instruct"} <= set(names("model"))
