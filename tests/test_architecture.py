"""The layering of ../shared/DESIGN.md, measured from the source: every import statement
(module level, inside functions and under TYPE_CHECKING alike) of every module is read, and
an arrow against the layering fails. Also: every module of the installed tree imports."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"engine": "engine", "runtime": "runtime", "build_engine": "build_engine",
           "calibration": "calibration", "root": "fuse_trt"}
# Which layers each layer may import (DESIGN.md, "Imports run one way").
ALLOWED = {
    "engine": {"engine"},
    "runtime": {"engine", "runtime"},
    "build_engine": {"engine", "runtime", "build_engine"},
    "calibration": {"engine", "runtime", "calibration"},
    "root": {"engine", "runtime", "build_engine", "calibration", "root"},
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fuse_trt":
        return None
    if len(parts) > 1 and parts[1] in ALLOWED and parts[1] != "root":
        return parts[1]
    return "root"


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def module_files(layer: str):
    folder = REPO / FOLDERS[layer]
    for path in sorted(folder.rglob("*.py")):
        if layer == "root" and path.relative_to(folder).parts[0] in FOLDERS:
            continue
        yield path


def import_edges() -> Counter:
    edges = Counter()
    for layer in ALLOWED:
        for path in module_files(layer):
            for target in {layer_of(name) for name in imported_modules(path)} - {None}:
                edges[(layer, target, path.relative_to(REPO).as_posix())] += 1
    return edges


def test_imports_run_one_way(record_property):
    edges = import_edges()
    graph = Counter((source, target) for source, target, _ in edges)
    record_property("import_graph", {f"{s} -> {t}": n for (s, t), n in sorted(graph.items())})
    wrong = sorted(f"{path}: {source} imports {target}" for source, target, path in edges
                   if target not in ALLOWED[source])
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_commands_do_not_import_the_cli_that_registers_them():
    offenders = [path.name for path in (REPO / "fuse_trt" / "commands").glob("*.py")
                 if "fuse_trt.cli" in imported_modules(path)]
    assert not offenders


def test_the_walker_sees_an_arrow_against_the_layering(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fuse_trt.calibration.options import Int8Options\n")
    targets = {layer_of(name) for name in imported_modules(bad)}
    assert "calibration" in targets and "calibration" not in ALLOWED["build_engine"]


def every_module() -> list[str]:
    """Every module importable under fuse_trt, found through the import system (so through
    the editable install's mapping of the user's folders)."""
    names = set()
    for prefix in ("fuse_trt", *(f"fuse_trt.{layer}" for layer in FOLDERS if layer != "root")):
        package = importlib.import_module(prefix)
        names.add(prefix)
        names.update(info.name for info in pkgutil.walk_packages(package.__path__, prefix + "."))
    return sorted(names)


def test_the_installed_tree_has_every_source_module():
    expected = set()
    for layer, folder in FOLDERS.items():
        prefix = "fuse_trt" if layer == "root" else f"fuse_trt.{layer}"
        for path in module_files(layer):
            relative = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            expected.add(".".join([prefix, *parts]))
    assert expected <= set(every_module())


@pytest.mark.parametrize("name", every_module())
def test_every_module_imports(name):
    importlib.import_module(name)
