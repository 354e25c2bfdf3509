"""A method that lives outside the package, as a user's would: one folder with its recipe,
trainer and job. Importing it registers both; nothing in `arctic_ray/` names it."""

from tests.support.example_method import job, trainer  # noqa: F401  (their import registers them)
