"""The CLI and the one runner behind it and the pipeline scripts: subcommands come from the
registry (a method adds its own where it is defined), recipes run in sequence each after the one
before, and every recipe of a sequence is checked before the first one runs."""

from __future__ import annotations

import pytest

from arctic_ray.cli import main, parser
from arctic_ray.core.recipe import RecipeError
from arctic_ray.core.registry import names
from arctic_ray.methods.sft.recipe import SFTRecipe
from arctic_ray.models.resolve import builtin_models
from arctic_ray.pipeline import Step, run_sequence
from tests.support.files import ROOT


def test_methods_and_stages_add_their_own_subcommands():
    parser()  # discovers the commands
    assert {"retrain", "synth", "dedup"} <= set(names("command"))
    import tests.support.example_method  # noqa: F401  (its import registers its job and its command)

    assert "line-at" in names("command")


def test_a_command_of_a_method_outside_the_package_runs(capsys):
    import tests.support.example_method  # noqa: F401  (its import registers its job and its command)

    assert main(["line-at", "2"]) == 0
    assert capsys.readouterr().out.strip() == "line-at: 6"


def test_the_model_list_is_the_registrys(capsys):
    with pytest.raises(SystemExit):
        main(["model", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(name in shown for name in builtin_models()) and "tiny" in builtin_models()


def test_a_sequence_is_checked_whole_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: sft\noptimizer: {learning_rate: 1}\n")
    with pytest.raises(RecipeError, match="optimizer.learning_rate: unknown field"):
        run_sequence([Step(str(ROOT / "examples/synth.yaml"), [f"output_dir={tmp_path}/runs"]), Step(str(bad))])
    assert not (tmp_path / "runs").exists()  # the first recipe never started
    assert main(["run", str(ROOT / "examples/synth.yaml"), "--then", str(bad)]) == 2
    assert "optimizer.learning_rate: unknown field" in capsys.readouterr().err


def test_sft_after_a_synthesis_run_trains_on_what_it_kept(tmp_path):
    sft = SFTRecipe()
    later = sft.after({"type": "synth", "kept": str(tmp_path / "curated")})
    assert [s.path for s in later.data.sources] == [*(s.path for s in sft.data.sources), tmp_path / "curated"]
    assert later.data.sources[-1].label == "synthesized" and len(sft.data.sources) == 3  # the first is unchanged
    with pytest.raises(RecipeError, match="a sft recipe cannot follow a swiftkv run"):
        sft.after({"type": "swiftkv"})
