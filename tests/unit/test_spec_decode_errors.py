"""The main job's script stops on a user's mistake with one clear line and exit code 2, before it
starts anything (no Ray, no run directory): a malformed prompt file, a missing one, a misspelt
field, an old spelling, an unknown drafter."""

from __future__ import annotations

from arctic_ray.pipeline import script_main
from tests.support.files import write_jsonl


def test_user_errors_are_one_clear_line(tmp_path, capsys):
    bad = write_jsonl(tmp_path / "p.jsonl", ['{"id": "a", "messages": [{"role": "user", "content": "x"}]}', "{oops"])
    cases = {
        f"data.sources=[{{path: {bad}}}]": f"{bad}:2: not valid JSON",
        f"data.sources=[{{path: {tmp_path / 'absent.jsonl'}}}]": "data source not found",
        "optimizer.learning_rate=1": "optimizer.learning_rate: unknown field",
        "train.lr=1": "train.lr: moved to optimizer.lr",
        "speculator.type=medusa": "speculator.type",
    }
    for override, message in cases.items():
        argv = ["--tiny", "--set", override, "--set", f"output_dir={tmp_path}/runs"]
        code = script_main(
            job="spec_decode", recipe="spec_decode.yaml", doc=None, tiny="spec_decode_tiny.yaml", argv=argv
        )
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
        assert err.startswith("spec_decode: error: ")
    assert not (tmp_path / "runs").exists()  # nothing was started for a run that could not start
