"""The documentation site builds with `mkdocs build --strict`: a broken link or anchor fails it."""

from __future__ import annotations

import subprocess
import sys

from tests.support.files import ROOT


def test_mkdocs_builds_strict(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "recipes" / "index.html").is_file()
