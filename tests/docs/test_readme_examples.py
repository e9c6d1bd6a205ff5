"""The README's console examples are what the commands print today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "docs" / "make_readme_examples.py"


def test_readme_examples_are_not_stale() -> None:
    spec = importlib.util.spec_from_file_location("make_readme_examples", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = module.README.read_text(encoding="utf-8")
    assert readme.count("<!-- example:") >= 5
    fresh = module.render(readme)
    assert fresh == readme, "README examples are stale: run docs/make_readme_examples.py"
