"""The house by layers: the running app, the recommendation engine, the core and the models never import
training, dataset or evaluation code, lower layers never import higher ones, and methods tried and not adopted
(`stylist/experimental`) are imported by no product, bench or evaluation code (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "stylist"
# layer -> the stylist subpackages it may import (besides itself)
ALLOWED = {
    "core": set(),
    "models": {"core"},
    "recommend": {"core", "models"},
    "app": {"core", "models", "recommend"},
}


def imported_modules(path: Path) -> set[str]:
    """Every `stylist.*` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (the layers use absolute imports)")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m == "stylist" or m.startswith("stylist.")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer):
    broken = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for module in imported_modules(path):
            parts = module.split(".")
            other = parts[1] if len(parts) > 1 else ""
            if other != layer and other not in ALLOWED[layer]:
                broken.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert not broken, "\n".join(broken)


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not loose, f"modules outside the layer folders: {loose}"


def test_nothing_but_tests_imports_the_experiments():
    sources = [p for p in REPO.glob("*.py")] + sorted((REPO / "bench").rglob("*.py"))
    sources += [p for p in sorted(PACKAGE.rglob("*.py")) if "experimental" not in p.relative_to(PACKAGE).parts]
    reaching = [f"{path.relative_to(REPO)} imports {module}" for path in sources
                for module in imported_modules(path) if module.startswith("stylist.experimental")]
    assert not reaching, "\n".join(reaching)


def test_the_recommendation_engine_is_used_from_the_recommend_layer():
    """Evaluation, the CLI, bench and the app reach the recommender through `stylist.recommend`, and the
    recommender leaves the outfit model's likelihood caches to it (no `logprobs` or `pmi_pairs` of its own)."""
    assert not (PACKAGE / "app" / "recommender.py").exists() and not (PACKAGE / "app" / "index_store.py").exists()
    source = (PACKAGE / "recommend" / "recommender.py").read_text()
    assert ".logprobs(" not in source and ".pmi_pairs(" not in source and ".pmi_terms(" not in source
