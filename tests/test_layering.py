"""The layering of docs/architecture.md, checked on the source: the pure layers
import nothing that does I/O, and product code never imports perf_sim."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [ROOT / "plugins" / "kubectl_perf", ROOT / "webhook" / "perf_webhook"]
PURE = ("quantity", "model", "scheduling", "policy")
# What a pure layer may import: each other, and standard-library modules that do no I/O.
PURE_ALLOWED = {
    "__future__",
    "collections",
    "collections.abc",
    "dataclasses",
    "enum",
    "fractions",
    "functools",
    "itertools",
    "math",
    "re",
    "typing",
}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports too), relative ones resolved."""
    package = ".".join(path.relative_to(path.parents[1 if path.parent.name != "capacity" else 2]).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
                found.update(f"{base}.{a.name}" for a in node.names)  # `from . import x` may name a module
            found.add(base)
    return found


def product_files() -> list[Path]:
    return sorted(p for d in PRODUCT for p in d.rglob("*.py"))


def test_the_walk_sees_imports() -> None:
    # the checks below are only as good as this: known imports must be found
    assert "kubectl_perf.quantity" in imports(ROOT / "plugins/kubectl_perf/model.py")
    assert "kubectl_perf.api" in imports(ROOT / "plugins/kubectl_perf/capacity/fetch.py")
    assert "kubernetes" in imports(ROOT / "plugins/kubectl_perf/api.py")  # imported inside a method
    assert "kubectl_perf.capacity.compute" in imports(ROOT / "plugins/kubectl_perf/capacity/__init__.py")  # relative, inside run()


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_product_code_never_imports_perf_sim(path: Path) -> None:
    assert not [m for m in imports(path) if m == "perf_sim" or m.startswith("perf_sim.")]


@pytest.mark.parametrize("name", PURE)
def test_pure_layers_import_no_io(name: str) -> None:
    allowed = PURE_ALLOWED | {f"kubectl_perf.{p}" for p in PURE}
    found = imports(ROOT / "plugins" / "kubectl_perf" / f"{name}.py")
    assert found, "no imports seen at all: the walk is broken"
    bad = sorted(m for m in found if m not in allowed and not any(m.startswith(f"kubectl_perf.{p}.") for p in PURE))
    assert bad == [], f"{name}.py imports {bad}: pure layers stay free of api, render and I/O"
