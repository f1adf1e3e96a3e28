"""A compact mutation-testing driver: AST mutants of one module, run against the tests that cover it.

Why not mutmut: mutmut 3 copies the sources into ``mutants/`` and puts that folder first on
``sys.path``; our packages install through ``package_dir`` prefix mappings
(``fuse_trt.engine`` -> ``engine/``) served by setuptools' editable finder, so the copied
files are never the ones imported. This driver needs no copy: each mutant is compiled from
the mutated AST and served to a forked test run by an import hook placed ahead of the
editable finder. The working tree is never written, so a crash cannot leave a mutant behind.

Operators (one change per mutant): arithmetic (+ -, * /, // *, % //, ** *), comparisons
(< <=, > >=, == !=, is / is not, in / not in), ``and``/``or`` swapped, ``not`` and unary minus
dropped, numbers changed (n -> n + 1, x.y -> 2 * x.y, 0.0 -> 1.0), ``True``/``False`` swapped,
``return value`` -> ``return None``, a call statement removed. Strings, docstrings,
annotations and logging calls are not mutated (messages and logs are not behaviour).
"""
from __future__ import annotations

import ast
import copy
import importlib.abc
import importlib.util
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
              ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
              ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.LShift: ast.RShift,
              ast.RShift: ast.LShift}
SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
            ast.NotIn: ast.In}
SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
INSTALLED_ROOT = Path(__file__).resolve().parents[2]
LOGGER_NAMES = {"log", "logger", "logging", "warnings"}


@dataclass(frozen=True)
class Mutant:
    index: int  # position in the module's enumeration (stable for a given source)
    line: int
    column: int
    source_line: str  # the original line, stripped: keys equivalence notes across edits
    description: str  # "a < b -> a <= b"


def _is_logging_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in LOGGER_NAMES


def _skipped_children(node: ast.AST) -> set[int]:
    """ids of subtrees never mutated: annotations, docstrings, f-strings, logging calls."""
    skipped = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        skipped.add(id(node.returns))
        for arg in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs):
            skipped.add(id(arg.annotation))
    if isinstance(node, ast.arg):
        skipped.add(id(node.annotation))
    if isinstance(node, ast.AnnAssign):
        skipped.add(id(node.annotation))
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        skipped.add(id(body[0]))
    return skipped


def _candidates(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every (node, kind) that has a mutation, in a deterministic walk order."""
    found: list[tuple[ast.AST, str]] = []

    def visit(node: ast.AST) -> None:
        if _is_logging_call(node) or isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.Expr) and _is_logging_call(node.value):
            return
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        if isinstance(node, ast.BinOp) and type(node.op) in SWAP_BINOP:
            found.append((node, "binop"))
        elif isinstance(node, ast.BoolOp):
            found.append((node, "boolop"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            found.append((node, "unary"))
        elif isinstance(node, ast.Compare):
            found.extend((node, f"compare:{i}") for i, op in enumerate(node.ops)
                         if type(op) in SWAP_CMP)
        elif isinstance(node, ast.Constant) and type(node.value) in (bool, int, float):
            found.append((node, "constant"))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            found.append((node, "return"))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            found.append((node, "drop-call"))
        skipped = _skipped_children(node)
        for child in ast.iter_child_nodes(node):
            if id(child) not in skipped:
                visit(child)

    visit(tree)
    return found


def _mutated_constant(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return 1.0 if value == 0.0 else value * 2


def _apply(node: ast.AST, kind: str) -> ast.AST | None:
    """Mutate ``node`` in place (or return its replacement); None means mutate in place."""
    if kind == "binop":
        node.op = SWAP_BINOP[type(node.op)]()
    elif kind == "boolop":
        node.op = SWAP_BOOL[type(node.op)]()
    elif kind.startswith("compare:"):
        position = int(kind.split(":")[1])
        node.ops[position] = SWAP_CMP[type(node.ops[position])]()
    elif kind == "constant":
        node.value = _mutated_constant(node.value)
    elif kind == "unary":
        return node.operand
    elif kind == "return":
        node.value = ast.Constant(None)
    elif kind == "drop-call":
        return ast.Pass()
    return None


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST):
        self.target, self.replacement = target, replacement

    def generic_visit(self, node):
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        return super().generic_visit(node)


def enumerate_mutants(path: Path) -> list[Mutant]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    mutants = []
    for index, (node, kind) in enumerate(_candidates(tree)):
        before = ast.unparse(node)
        mutated = _mutate(copy.deepcopy(node), kind)
        after = ast.unparse(mutated)
        short = lambda text: text if len(text) <= 70 else text[:67] + "..."
        mutants.append(Mutant(index, node.lineno, node.col_offset, lines[node.lineno - 1].strip(),
                              f"{short(before)} -> {short(after)}"))
    return mutants


def _mutate(node: ast.AST, kind: str) -> ast.AST:
    replacement = _apply(node, kind)
    return node if replacement is None else replacement


def mutant_code(path: Path, index: int):
    tree = ast.parse(path.read_text())
    node, kind = _candidates(tree)[index]
    replacement = _apply(node, kind)
    if replacement is not None:
        tree = _Replace(node, replacement).visit(tree)
    ast.fix_missing_locations(tree)
    return compile(tree, str(path), "exec")


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module's mutated code object, ahead of the editable-install finder."""

    def __init__(self, fullname: str, path: Path, code):
        self.fullname, self.path, self.code = fullname, path, code

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.fullname:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.code, module.__dict__)


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """Imports ``fuse_trt`` from another checkout (``root``) laid out like this one."""

    TOP = {"fuse_trt": "fuse_trt", "fuse_trt.engine": "engine", "fuse_trt.runtime": "runtime",
           "fuse_trt.build_engine": "build_engine", "fuse_trt.calibration": "calibration"}

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        from importlib.machinery import PathFinder

        if fullname in self.TOP:
            folder = self.root / self.TOP[fullname]
            return importlib.util.spec_from_file_location(
                fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])
        parent = fullname.rpartition(".")[0]
        if parent and fullname.startswith("fuse_trt.") and parent in sys.modules:
            return PathFinder.find_spec(fullname, sys.modules[parent].__path__)
        return None


def run_tests_forked(tests: list[str], fullname: str | None, path: Path | None,
                     index: int | None, timeout: float, root: Path,
                     source: str | None = None) -> tuple[str, float]:
    """Run pytest on ``tests`` from ``root`` in a forked child (mutant ``index`` served if given).

    ``path`` is the mutated module's file (under ``root``); a ``root`` other than the
    installed checkout is imported from instead of it. ``source`` (instead of ``index``): a
    hand-made mutant's whole text, served as ``fullname``.

    Returns ("survived" | "killed" | "timeout" | "error", seconds).
    """
    start = time.monotonic()
    child = os.fork()
    if child == 0:  # the child: never returns
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.setpgid(0, 0)
            os.chdir(root)
            if root.resolve() != INSTALLED_ROOT:
                sys.meta_path.insert(0, _CheckoutFinder(root))
            if index is not None or source is not None:
                try:
                    code = mutant_code(path, index) if source is None \
                        else compile(source, str(path), "exec")
                except SyntaxError:
                    os._exit(3)
                sys.meta_path.insert(0, _MutantFinder(fullname, path, code))
            import pytest
            from hypothesis import Phase, settings

            # A mutant is killed by the first failing example: shrinking it (often far longer
            # than the search) tells the driver nothing, and no example database is kept.
            settings.register_profile("mutation", database=None,
                                      phases=(Phase.explicit, Phase.generate))
            settings.load_profile("mutation")
            code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "--no-header",
                                "-W", "ignore"])
            os._exit(int(code))
        except BaseException:  # the child must never fall back into the driver's loop
            os._exit(70)
    deadline = start + timeout
    while True:
        finished, status = os.waitpid(child, os.WNOHANG)
        if finished:
            break
        if time.monotonic() > deadline:
            os.killpg(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return "timeout", time.monotonic() - start
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    if os.WIFSIGNALED(status):
        return "killed", elapsed
    code = os.WEXITSTATUS(status)
    if code == 0:
        return "survived", elapsed
    if code in (1, 2, 3, 4):  # failed, collection error, internal error, conftest import error
        return "killed", elapsed
    return "error", elapsed
