from typing import Literal

from pydantic import Field

from arctic_ray.train.config import TrainConfig


class LineRecipe(TrainConfig):
    """Fit y = slope * x on the shared loop: the smallest method there is."""

    type: Literal["line_fit"] = "line_fit"
    slope: float = 3.0
    rows: int = Field(default=64, gt=0)
