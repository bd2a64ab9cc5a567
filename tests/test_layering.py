"""The layering of docs/architecture.md, checked on the source: the pure layers
import nothing that does I/O, product code never imports perf_sim, no plugin package
imports another (what two share lives on the ground floor), and no kubectl_perf module
imports itself back through others (a circle, function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [ROOT / "plugins" / "kubectl_perf", ROOT / "webhook" / "perf_webhook"]
PURE = ("quantity", "model", "scheduling", "policy", "padding")
PLUGIN_PACKAGES = ("capacity", "images", "cadvisor", "audit", "volumes", "rightsize")
# `report` (issue 23) is built from the plugins' own fetch, compute, output and html layers: it is the one
# package that may import the others (one source of truth for every figure); no plugin imports it.
COMPOSER = "report"
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


def module_name(path: Path) -> str:
    """kubectl_perf.capacity.fetch for plugins/kubectl_perf/capacity/fetch.py; a package's __init__.py is the package."""
    parts = path.relative_to(ROOT / ("plugins" if ROOT / "plugins" in path.parents else "webhook")).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports too), relative ones resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
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
    assert "kubectl_perf.cadvisor.compute" in imports(ROOT / "plugins/kubectl_perf/cadvisor/fetch.py")  # one package deeper
    assert "kubectl_perf.audit.output" in imports(ROOT / "plugins/kubectl_perf/audit/html.py")
    assert module_name(ROOT / "plugins/kubectl_perf/images/__init__.py") == "kubectl_perf.images"


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


@pytest.mark.parametrize("name", PLUGIN_PACKAGES)
def test_no_plugin_imports_another(name: str) -> None:
    others = [f"kubectl_perf.{p}" for p in (*PLUGIN_PACKAGES, COMPOSER) if p != name]
    bad = sorted(
        f"{path.relative_to(ROOT)} imports {m}"
        for path in (ROOT / "plugins" / "kubectl_perf" / name).rglob("*.py")
        for m in imports(path)
        if any(m == o or m.startswith(f"{o}.") for o in others)
    )
    assert bad == [], "a plugin package imports another; move what they share to the ground floor: " + "; ".join(bad)


def test_report_builds_on_the_plugins_compute_layers() -> None:
    # the deliberate exception above: report's figures come from the plugins' own compute code
    found = {m for path in (ROOT / "plugins" / "kubectl_perf" / COMPOSER).rglob("*.py") for m in imports(path)}
    assert {f"kubectl_perf.{p}.compute" for p in ("capacity", "images", "audit")} <= found


def import_graph() -> dict[str, set[str]]:
    """kubectl_perf module -> the kubectl_perf modules it imports. A module's own packages are left
    out: Python imports them first in any case, so they close no circle of the code's making."""
    files = sorted((ROOT / "plugins" / "kubectl_perf").rglob("*.py"))
    modules = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        name = module_name(path)
        ancestors = {name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)}
        graph[name] = {m for m in imports(path) if m in modules and m != name and m not in ancestors}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_circle_finder_finds_circles() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    found = circles(import_graph())
    assert found == [], "modules that import each other (function-local imports count): " + "; ".join(" <-> ".join(c) for c in found)
