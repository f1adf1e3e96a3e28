"""Packaging: one namespace, nothing generic in site-packages, light imports, every --help."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["engine", "runtime", "build_engine", "calibration"]

# Run a snippet in a fresh interpreter where torch, tensorrt and pycuda cannot be imported.
BLOCK_HEAVY = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'tensorrt', 'pycuda'):
            raise ImportError(f'blocked {name}')
sys.meta_path.insert(0, _Block())
"""


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_HEAVY + code], capture_output=True,
                          text=True, cwd="/", timeout=120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a clean copy: setuptools' build/ folder in a work tree can hold stale files.
    source = tmp_path_factory.mktemp("source") / "fuse-trt"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
        "out", "benchmarks", "docs", "tests"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return next(out.glob("fuse_trt-*.whl"))


def test_wheel_installs_only_the_fuse_trt_namespace(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"fuse_trt", next(n for n in top_level if n.endswith(".dist-info"))}
    for subpackage in SUBPACKAGES:
        assert f"fuse_trt/{subpackage}/__init__.py" in names
    assert "fuse_trt/models/default/model.onnx" in names
    assert "fuse_trt/samples/astronaut.jpg" in names


def test_installed_record_has_no_generic_top_level_names():
    import sysconfig
    from importlib.metadata import Distribution

    # The installed record in site-packages, not a build's egg-info in the work tree.
    [installed] = Distribution.discover(name="fuse-trt", path=[sysconfig.get_paths()["purelib"]])
    files = installed.files or []
    top_level = {str(f).split("/")[0] for f in files}
    assert not top_level & {"engine", "runtime", "build_engine", "calibration", "tests"}


def test_import_and_subpackages_need_no_torch_tensorrt_or_pycuda():
    result = run_python(
        "import fuse_trt, fuse_trt.engine, fuse_trt.runtime, fuse_trt.build_engine, "
        "fuse_trt.calibration, fuse_trt.api, fuse_trt.cli\n"
        "import fuse_trt.runtime.onnxruntime_backend, fuse_trt.runtime.select\n"
        "assert not {'torch', 'tensorrt', 'pycuda'} & set(sys.modules)\n"
        "print(fuse_trt.FaceFusion.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FaceFusion"


def test_every_command_help_works_without_heavy_packages():
    commands = run_python("from fuse_trt.cli import cli; print(' '.join(sorted(cli.commands)))")
    assert commands.returncode == 0, commands.stderr
    names = commands.stdout.split()
    assert {"build", "fuse", "info"} <= set(names)
    for args in [[], *([name] for name in names)]:
        result = run_python(f"from fuse_trt.cli import main; main({[*args, '--help']!r})")
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage: fuse-trt" in result.stdout


def test_runtime_only_fusion_runs_without_torch(tmp_path):
    """What a Jetson or a runtime-only install does: the default bundle on ONNX Runtime."""
    out = tmp_path / "fused.png"
    result = run_python(
        "from fuse_trt.cli import main\n"
        f"main(['fuse', 'sample:grace_hopper', 'sample:astronaut', '-o', {str(out)!r}, "
        "'--backend', 'onnxruntime'])")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
