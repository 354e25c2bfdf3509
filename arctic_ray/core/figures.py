"""PNG figures for run reports: matplotlib without a display, saved beside report.md (on any
filesystem the run directory is on)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from arctic_ray.core.storage import Location


def save(fig, where: Location) -> str:
    """Write `fig` as a PNG (a local path or a URI), close it, and return the file name
    report.md links to."""
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    where.write_bytes(png.getvalue())
    return where.path.rsplit("/", 1)[-1]
