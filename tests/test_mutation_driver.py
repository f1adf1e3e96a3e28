"""The mutation driver behind `make mutation` (benchmarks/mutation): which mutants it makes."""
import importlib.util
import sys
from pathlib import Path

DRIVER = Path(__file__).resolve().parents[1] / "benchmarks" / "mutation" / "driver.py"


def load_driver():
    spec = importlib.util.spec_from_file_location("mutation_driver", DRIVER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


SOURCE = '''"""Docstring: never mutated."""
import logging
log = logging.getLogger("x")


def pick(a: int, b: int) -> int:
    log.info("picking %d", 1)
    if a < b and not a == 0:
        return a + b
    return -a
'''


def test_each_operator_family_yields_one_mutant_that_changes_behaviour(tmp_path):
    driver = load_driver()
    path = tmp_path / "module.py"
    path.write_text(SOURCE)
    mutants = driver.enumerate_mutants(path)
    assert [m.description for m in mutants] == [
        "a < b and (not a == 0) -> a < b or not a == 0",
        "a < b -> a <= b",
        "not a == 0 -> a == 0",
        "a == 0 -> a != 0",
        "0 -> 1",
        "return a + b -> return None",
        "a + b -> a - b",
        "return -a -> return None",
        "-a -> a",
    ]
    assert all(m.line >= 8 for m in mutants)  # docstring, logging and annotations untouched
    for mutant in mutants:
        namespace = {}
        exec(driver.mutant_code(path, mutant.index), namespace)
        outcomes = [namespace["pick"](a, b) for a, b in ((1, 2), (2, 2), (0, 3), (3, 1))]
        assert outcomes != [3, -2, 0, -3], mutant.description
