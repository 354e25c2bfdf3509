import pytest
import yaml

from arctic_ray.cli import main as cli_main
from arctic_ray.core.recipe import RecipeError
from arctic_ray.jobs import load_recipe, validate_recipe
from arctic_ray.methods.spec_decode.recipe import SpecDecodeRecipe
from arctic_ray.methods.spec_decode.drafters.eagle3.config import Eagle3Config
from arctic_ray.methods.spec_decode.drafters.mlp.config import MLPSpeculatorConfig
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["spec_decode.yaml", "spec_decode_tiny.yaml", "spec_decode_online.yaml", "spec_decode_gpu.yaml"])
def test_shipped_recipes_validate(name):
    recipe = load_recipe(ROOT / "examples" / name)
    assert isinstance(recipe, SpecDecodeRecipe)
    assert recipe.dedup.threshold == 0.7
    assert recipe.train.zero_stage == 2


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
    with pytest.raises(RecipeError, match="teacher.mode online needs train.max_steps"):
        validate_recipe({"teacher": {"mode": "online"}})
    with pytest.raises(RecipeError, match="synth.max_model_len"):
        validate_recipe({"synth": {"max_model_len": 128}})


def test_misspelt_field_is_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": "tiny", "train": {"lr_rate": 0.1}}))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert "train.lr_rate: unknown field" in str(err.value)
    assert str(path) in str(err.value)


def test_wrong_type_and_range_are_named():
    with pytest.raises(RecipeError) as err:
        validate_recipe({"train": {"epochs": "many", "num_workers": 0}})
    text = str(err.value)
    assert "train.epochs" in text and "train.num_workers" in text


def test_unknown_job_lists_known_ones():
    with pytest.raises(RecipeError, match="unknown job 'nope'.*spec_decode"):
        validate_recipe({"job": "nope"})


def test_overrides_are_typed_and_checked(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: tiny\n")
    recipe = load_recipe(path, ["train.epochs=4", "dedup.threshold=0.8", "speculator.n_predict=2"])
    assert (recipe.train.epochs, recipe.dedup.threshold, recipe.speculator.n_predict) == (4, 0.8, 2)
    with pytest.raises(RecipeError, match="train.epoch: unknown field"):
        load_recipe(path, ["train.epoch=4"])
    with pytest.raises(RecipeError, match="not KEY=VALUE"):
        load_recipe(path, ["train.epochs"])


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_field_docstrings_are_the_docs():
    assert "HF name or a local path" in SpecDecodeRecipe.model_fields["model"].description


def test_cli_validate(tmp_path, capsys):
    assert cli_main(["validate", str(ROOT / "examples" / "spec_decode_tiny.yaml")]) == 0
    assert "valid spec_decode recipe" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("speculator: {n_predicts: 3}\n")
    assert cli_main(["validate", str(bad)]) == 2
    assert "speculator.n_predicts: unknown field" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, backend",
    [("synth.yaml", "vllm"), ("synth_openai.yaml", "openai"), ("synth_openai_batch.yaml", "openai_batch"), ("synth_cortex.yaml", "cortex")],
)
def test_shipped_synth_recipes_pick_their_backend(name, backend):
    from arctic_ray.methods.synth.recipe import SynthRecipe

    recipe = load_recipe(ROOT / "examples" / name)
    assert isinstance(recipe, SynthRecipe) and recipe.synth.backend == backend
    # a field of another backend is named as unknown
    with pytest.raises(RecipeError, match="synth.chunk_rows: unknown field") if backend != "cortex" else pytest.raises(RecipeError, match="synth.max_concurrency: unknown field"):
        load_recipe(ROOT / "examples" / name, ["synth.chunk_rows=5" if backend != "cortex" else "synth.max_concurrency=5"])


@pytest.mark.parametrize("name", ["sft.yaml", "sft_moe.yaml", "sft_smollm2.yaml", "sft_gpu.yaml", "synth_sft.yaml"])
def test_shipped_sft_recipes_validate(name):
    recipe = load_recipe(ROOT / "examples" / name)
    if recipe.job == "sft":
        assert recipe.workers.zero_stage == 2 and recipe.train_config().betas == (0.9, 0.95)
    else:
        assert [s.stage for s in recipe.curate] == ["rules", "exact_dedup", "near_dedup"]


@pytest.mark.parametrize("name", ["synth.yaml", "synth_openai.yaml", "synth_cortex.yaml"])
def test_backend_pools_take_a_size_or_an_autoscaling_range(name):
    assert load_recipe(ROOT / "examples" / name, ["synth.concurrency=[1, 3]"]).synth.concurrency == (1, 3)
    with pytest.raises(RecipeError, match=r"synth.concurrency: .*needs 1 <= min <= max"):
        load_recipe(ROOT / "examples" / name, ["synth.concurrency=[3, 1]"])
