"""The house by layers: the running app, its core and its models never import training, dataset or
evaluation code, and lower layers never import higher ones (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stylist"
# layer -> the stylist subpackages it may import (besides itself)
ALLOWED = {
    "core": set(),
    "models": {"core"},
    "app": {"core", "models"},
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
