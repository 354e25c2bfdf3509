"""The preference job on the tiny model (local vLLM, sampled) and the tiny reward model: every
sample ends in one outcome and the outcomes add up to the samples asked for, the pairs come out in
TRL's conversational format that the DPO job reads, and the report shows where each sample went."""

from __future__ import annotations

import json
from pathlib import Path

from arctic_ray.data.sources import SourceConfig
from arctic_ray.methods.dpo.pairs import read_pairs
from arctic_ray.pipeline import run_file
from tests.support.files import ROOT


def test_every_sample_is_accounted_for_and_the_pairs_train(ray_local, session_cache, tmp_path):
    m = run_file(
        str(ROOT / "examples/preference.yaml"),
        [
            f"output_dir={tmp_path}/runs",
            f"store={tmp_path}/store",
            "input.limit=12",
            "samples=3",
            "synth.sampling.max_tokens=24",
        ],
    )
    assert m["samples_asked"] == 36 and sum(m["outcomes"].values()) == 36
    assert m["outcomes"]["chosen"] == m["outcomes"]["rejected"] == m["pairs_count"] > 0
    run_dir = Path(m["run_dir"])
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").open()]
    assert len(samples) == 36 and len({s["id"] for s in samples}) == 36  # each sample once, with its outcome
    pairs = [json.loads(line) for line in (run_dir / "pairs.jsonl").open()]
    assert all(p["chosen"][0]["role"] == "assistant" and p["prompt"][-1]["role"] == "user" for p in pairs)
    scores = json.loads(pairs[0]["scores"])
    assert scores[pairs[0]["chosen_id"]] - scores[pairs[0]["rejected_id"]] == pairs[0]["margin"] > 0
    read = read_pairs([SourceConfig(path=Path(m["pairs"]))], [], eval_fraction=0.0)  # what `dpo` reads after it
    assert len(read.train) == m["pairs_count"] and not read.rejects
    report = (run_dir / "report.md").read_text()
    assert "| **total** | **36** (= answers asked) |" in report and (run_dir / "pairs.png").is_file()
