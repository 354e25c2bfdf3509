"""PNG figures for run reports: matplotlib without a display, saved beside report.md."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402,F401  (the one pyplot every report uses)


def save(fig, path: Path) -> str:
    """Write `fig` to `path`, close it, and return the file name report.md links to."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
