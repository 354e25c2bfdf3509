import pytest
import yaml

from arctic_ray.cli import main as cli_main
from arctic_ray.core.recipe import RecipeError
from arctic_ray.job_table import load_recipe, validate_recipe
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.mlp.config import MLPSpeculatorConfig
from arctic_ray.methods.spec_decode.recipe import SpecDecodeRecipe
from tests.support.files import ROOT


@pytest.mark.parametrize(
    "name", ["spec_decode.yaml", "spec_decode_tiny.yaml", "spec_decode_online.yaml", "spec_decode_gpu.yaml"]
)
def test_shipped_recipes_validate(name):
    recipe = load_recipe(ROOT / "examples" / name)
    assert isinstance(recipe, SpecDecodeRecipe)
    assert recipe.dedup.threshold == 0.7
    assert recipe.workers.zero_stage == 2


def test_sub_configs_pick_their_class_by_discriminator():
    assert isinstance(validate_recipe({}).speculator, Eagle3Config)  # the default drafter
    mlp = validate_recipe({"speculator": {"type": "mlp", "n_predict": 2}}).speculator
    assert isinstance(mlp, MLPSpeculatorConfig) and mlp.n_predict == 2
    assert isinstance(validate_recipe({"speculator": {"draft_vocab_size": 64}}).speculator, Eagle3Config)
    with pytest.raises(RecipeError, match="speculator.type"):
        validate_recipe({"speculator": {"type": "medusa"}})
    # a field of another member is an unknown field, named without the union's tag
    with pytest.raises(RecipeError, match="speculator.draft_vocab_size: unknown field"):
        validate_recipe({"speculator": {"type": "mlp", "draft_vocab_size": 64}})
    with pytest.raises(RecipeError, match="synth.backend"):
        validate_recipe({"synth": {"backend": "carrier-pigeon"}})


def test_cross_field_rules_are_named():
    with pytest.raises(RecipeError, match="teacher.mode online needs max_steps"):
        validate_recipe({"teacher": {"mode": "online"}})
    with pytest.raises(RecipeError, match="synth.max_model_len"):
        validate_recipe({"synth": {"max_model_len": 128}})


def test_misspelt_field_is_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": {"name_or_path": "tiny"}, "optimizer": {"lr_rate": 0.1}}))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert "optimizer.lr_rate: unknown field" in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "old, message",
    [
        ({"train": {"lr": 0.1}}, "train.lr: moved to optimizer.lr"),
        (
            {"train": {"num_workers": 2, "seq_len": 64}},
            "train.num_workers: moved to workers.num_workers; train.seq_len: moved to data.max_length",
        ),
        ({"train": {"base_cache_mb": 0}}, "train.base_cache_mb: moved to speculator.base_cache_mb"),
        ({"model": "tiny"}, "model: moved to model.name_or_path"),
        ({"store_dir": "s"}, "store_dir: moved to store"),
        ({"data": {"prompts": "p.jsonl"}}, "data.prompts: moved to data.sources"),
        ({"eval": {"eval_every": 5}}, "eval.eval_every: moved to eval_every"),
        ({"job": "spec_decode"}, "job: moved to type"),
    ],
)
def test_an_old_spelling_names_the_new_field(old, message):
    with pytest.raises(RecipeError, match=message.replace(".", r"\.")):
        validate_recipe(old)


def test_every_trainer_speaks_the_same_dialect():
    fields = {
        "type",
        "model",
        "data",
        "micro_batch_size",
        "gradient_accumulation_steps",
        "optimizer",
        "scheduler",
        "deepspeed",
        "checkpoint",
        "workers",
    }
    from arctic_ray.methods.sft.recipe import SFTRecipe
    from arctic_ray.train.config import TrainConfig

    for recipe in (SpecDecodeRecipe, SFTRecipe):
        assert issubclass(recipe, TrainConfig) and fields <= set(recipe.model_fields)
    assert "base_cache_mb" not in TrainConfig.model_fields and "speculator" not in TrainConfig.model_fields


def test_wrong_type_and_range_are_named():
    with pytest.raises(RecipeError) as err:
        validate_recipe({"epochs": "many", "workers": {"num_workers": 0}})
    text = str(err.value)
    assert "  epochs:" in text and "workers.num_workers" in text


def test_unknown_job_lists_known_ones():
    with pytest.raises(RecipeError, match="unknown job 'nope'.*spec_decode"):
        validate_recipe({"type": "nope"})


def test_overrides_are_typed_and_checked(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: {name_or_path: tiny}\n")
    recipe = load_recipe(path, ["epochs=4", "dedup.threshold=0.8", "speculator.n_predict=2"])
    assert (recipe.epochs, recipe.dedup.threshold, recipe.speculator.n_predict) == (4, 0.8, 2)
    with pytest.raises(RecipeError, match="  epoch: unknown field"):
        load_recipe(path, ["epoch=4"])
    with pytest.raises(RecipeError, match="not KEY=VALUE"):
        load_recipe(path, ["epochs"])


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_field_docstrings_are_the_docs():
    from arctic_ray.train.config import ModelConfig

    assert "Hugging Face name or a local path" in ModelConfig.model_fields["name_or_path"].description


def test_cli_validate(tmp_path, capsys):
    assert cli_main(["validate", str(ROOT / "examples" / "spec_decode_tiny.yaml")]) == 0
    assert "valid spec_decode recipe" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("speculator: {n_predicts: 3}\n")
    assert cli_main(["validate", str(bad)]) == 2
    assert "speculator.n_predicts: unknown field" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, backend",
    [
        ("synth.yaml", "vllm"),
        ("synth_openai.yaml", "openai"),
        ("synth_openai_batch.yaml", "openai_batch"),
        ("synth_cortex.yaml", "cortex"),
    ],
)
def test_shipped_synth_recipes_pick_their_backend(name, backend):
    from arctic_ray.methods.synth_curate.recipe import SynthRecipe

    recipe = load_recipe(ROOT / "examples" / name)
    assert isinstance(recipe, SynthRecipe) and recipe.synth.backend == backend
    # a field of another backend is named as unknown
    with (
        pytest.raises(RecipeError, match="synth.chunk_rows: unknown field")
        if backend != "cortex"
        else pytest.raises(RecipeError, match="synth.max_concurrency: unknown field")
    ):
        load_recipe(
            ROOT / "examples" / name, ["synth.chunk_rows=5" if backend != "cortex" else "synth.max_concurrency=5"]
        )


@pytest.mark.parametrize("name", ["sft.yaml", "sft_moe.yaml", "sft_smollm2.yaml", "sft_gpu.yaml", "synth_sft.yaml"])
def test_shipped_sft_recipes_validate(name):
    recipe = load_recipe(ROOT / "examples" / name)
    if recipe.type == "sft":
        assert recipe.workers.zero_stage == 2 and recipe.optimizer.betas == (0.9, 0.95)
    else:
        assert [s.stage for s in recipe.curate] == ["rules", "exact_dedup", "near_dedup"]


@pytest.mark.parametrize("name", ["synth.yaml", "synth_openai.yaml", "synth_cortex.yaml"])
def test_backend_pools_take_a_size_or_an_autoscaling_range(name):
    assert load_recipe(ROOT / "examples" / name, ["synth.concurrency=[1, 3]"]).synth.concurrency == (1, 3)
    with pytest.raises(RecipeError, match=r"synth.concurrency: .*needs 1 <= min <= max"):
        load_recipe(ROOT / "examples" / name, ["synth.concurrency=[3, 1]"])


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    """Every recipe under examples/ is valid, those for GPU clusters (validated, not run here) too."""
    recipe = load_recipe(path)
    assert recipe.type in path.name or path.name.startswith(recipe.type.split("_")[0])
