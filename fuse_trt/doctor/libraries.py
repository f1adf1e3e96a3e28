"""What the default job needs: Python, fuse-trt, ONNX Runtime, OpenCV, the face models and
the shipped bundle; and torch, which only building and training need."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys
from pathlib import Path

from fuse_trt.doctor.finding import Finding, Status
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import FuseTrtError


def python_finding() -> Finding:
    supported = sys.version_info >= (3, 10)
    return Finding("Python", Status.OK if supported else Status.PROBLEM,
                   f"{platform.python_version()} ({sys.executable})"
                   + ("" if supported else "; fuse-trt needs 3.10 or later"), required=True)


def fuse_trt_finding() -> Finding:
    from fuse_trt import __version__

    return Finding("fuse-trt", Status.OK, f"{__version__} ({Path(__file__).parents[1]})",
                   required=True)


def onnxruntime_finding() -> Finding:
    try:
        import onnxruntime
    except ImportError as error:
        return Finding("ONNX Runtime", Status.PROBLEM, f"not importable ({error}); pip "
                       "install onnxruntime", required=True)
    providers = ", ".join(onnxruntime.get_available_providers())
    return Finding("ONNX Runtime", Status.OK, f"{onnxruntime.__version__}, providers: "
                   f"{providers}", required=True)


def opencv_finding() -> Finding:
    try:
        import cv2
    except ImportError as error:
        return Finding("OpenCV", Status.PROBLEM, f"not importable ({error}); pip install "
                       "opencv-python-headless", required=True)
    others = [name for name in ("opencv-python", "opencv-contrib-python")
              if _distribution_version(name)]
    if others:
        return Finding("OpenCV", Status.PROBLEM, f"{cv2.__version__}, but {', '.join(others)} "
                       "is installed beside opencv-python-headless: keep one (pip uninstall "
                       f"{' '.join(others)})", required=True)
    return Finding("OpenCV", Status.OK, cv2.__version__, required=True)


def face_models_finding() -> Finding:
    from fuse_trt.engine.faces.models import model_path

    try:
        paths = [model_path("detector"), model_path("recognizer")]
    except FuseTrtError as error:
        return Finding("face models", Status.PROBLEM, str(error), required=True)
    return Finding("face models", Status.OK, ", ".join(path.name for path in paths),
                   required=True)


def torch_finding() -> Finding:
    if importlib.util.find_spec("torch") is None:
        return Finding("torch", Status.INFO, "not installed (only `fuse-trt build`, `train` and "
                       "the torch backend need it: pip install 'fuse-trt[export]' -c "
                       "constraints-cpu.txt)")
    version = _distribution_version("torch") or "installed"
    return Finding("torch", Status.OK, f"{version} (build, train, torch backend)")


def bundle_finding(directory: Path) -> tuple[Finding, Bundle | None]:
    """Load the bundle and check every artifact against its sha256."""
    try:
        bundle = Bundle.load(directory)
        for artifact in bundle.manifest.artifacts:
            bundle.artifact_path(artifact.kind, artifact.precision, file=artifact.file)
    except FuseTrtError as error:
        return Finding("default bundle", Status.PROBLEM, str(error), required=True), None
    return Finding("default bundle", Status.OK, f"{directory}: {len(bundle.manifest.artifacts)} "
                   "artifacts, every sha256 matches", required=True), bundle


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
