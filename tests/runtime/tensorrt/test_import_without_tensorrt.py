"""The GPU modules import without tensorrt or pycuda and fail only when used, with a hint."""
import subprocess
import sys

BLOCKED = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorrt', 'pycuda'):
            raise ImportError(f'blocked {name}')
sys.meta_path.insert(0, _Block())
"""

USE = """
from pathlib import Path
import fuse_trt.runtime.trt_compat, fuse_trt.runtime.cuda_memory, fuse_trt.runtime.trt_logger
import fuse_trt.runtime.plan_sidecar, fuse_trt.build_engine.tensorrt_builder
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.engine.tiers import DEFAULT_TIERS
from fuse_trt.engine.errors import BackendUnavailableError
assert not {'tensorrt', 'pycuda', 'pycuda.driver'} & set(sys.modules)
backend = TensorRTBackend(Path('missing.plan'), FUSION_SPEC, DEFAULT_TIERS, 'fp16')
try:
    backend.activate()
except BackendUnavailableError as error:
    print(error)
"""


def test_modules_import_without_tensorrt_and_say_how_to_install_it():
    result = subprocess.run([sys.executable, "-c", BLOCKED + USE], capture_output=True,
                            text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr
    assert "TensorRT is not importable" in result.stdout
    assert "pip install 'fuse-trt[gpu]'" in result.stdout
