"""Where a run sits on a data-scaling curve: interpolated on log(tokens) inside it, extrapolated
(and said so) outside, and refused for a curve of another model."""

import json
import math

import pytest

from arctic_ray.methods.spec_decode.scaling_position import position_on_curve, position_sentence, read_curve

CURVE = {
    "model": "smollm2-135m-instruct",
    "points": [
        {"tokens": 10_000, "speedup_foreign": 1.0, "temperature": 0.0},
        {"tokens": 40_000, "speedup_foreign": 1.2, "temperature": 0.0},
        {"tokens": 20_000, "speedup_foreign": 1.1, "temperature": 0.0},
        {"tokens": 80_000, "speedup_foreign": 1.4, "temperature": 0.0},
        {"tokens": 10_000, "speedup_foreign": 0.9, "temperature": 1.0},  # the sampled run: not on the curve
    ],
    "baselines_foreign": {"ngram": 1.18, "suffix": 1.27, "suffix_nocache": 1.16},
}


def test_a_run_between_two_sizes_gets_the_log_interpolated_speedup(tmp_path):
    path = tmp_path / "points.json"
    path.write_text(json.dumps(CURVE))
    tokens = int(20_000 * math.sqrt(2))  # halfway between 20k and 40k on a log scale
    at = position_on_curve(read_curve(str(path)), tokens, "smollm2-135m-instruct")
    assert at["between"] == (20_000, 40_000) and not at["extrapolated"]
    assert at["speedup_foreign"] == pytest.approx(1.15, abs=1e-3)
    said = position_sentence(at)
    assert "between the measured 20,000 and 40,000" in said and "1.15x" in said and "1.27x" in said


def test_outside_the_curve_is_extrapolated_from_the_nearest_sizes():
    below = position_on_curve(CURVE, 5_000, "smollm2-135m-instruct")
    assert below["between"] == (10_000, 20_000) and below["extrapolated"]
    assert below["speedup_foreign"] == pytest.approx(0.9, abs=1e-6)  # one halving below 1.0 at 10k
    above = position_on_curve(CURVE, 160_000, "smollm2-135m-instruct")
    assert above["between"] == (40_000, 80_000) and above["speedup_foreign"] == pytest.approx(1.6, abs=1e-6)
    assert "extrapolated from 40,000 and 80,000" in position_sentence(above)


def test_a_curve_of_another_model_is_refused():
    with pytest.raises(ValueError, match="scaling curve is of 'smollm2-135m-instruct'"):
        position_on_curve(CURVE, 20_000, "tiny")
