"""The docs stay true: the recipe reference is the one the schemas generate (every recipe type,
every field, its type, default and docstring), and the README's relative links resolve."""

from __future__ import annotations

import re

from arctic_ray.cli import recipe_reference
from arctic_ray.job_table import job_names, lookup_job
from tests.support.files import ROOT


def test_the_committed_recipe_reference_is_what_the_schemas_generate():
    committed = (ROOT / "docs/reference/recipes.md").read_text()
    assert committed == recipe_reference(), "regenerate it: arctic-ray reference"


def test_the_reference_names_every_field_of_every_recipe_with_its_docstring():
    text = recipe_reference()
    for name in (n for n in job_names() if lookup_job(n).run.__module__.startswith("arctic_ray.")):
        assert f"## `{name}`" in text
        for field, info in lookup_job(name).recipe.model_fields.items():
            assert f"| {field} |" in text, (name, field)
            if info.description:
                assert " ".join(info.description.split()) in text, (name, field)


def test_readme_and_contributing_links_resolve():
    for page in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / page).read_text()
        links = [m for m in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in m]
        assert links or page != "README.md"
        missing = [link for link in links if not (ROOT / link).exists()]
        assert not missing, f"{page} links to {missing}"
