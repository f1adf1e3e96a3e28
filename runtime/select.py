"""Pick and open a backend for a bundle: ``auto`` prefers TensorRT on a GPU, then ONNX Runtime
on CUDA, then ONNX Runtime on CPU (:func:`select_backend`)."""
from __future__ import annotations

import importlib.util
import logging
import sys
from dataclasses import dataclass

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision, parse
from fuse_trt.engine.errors import (BackendUnavailableError, BundleError, ConfigError,
                                    PlanMismatchError)
from fuse_trt.runtime.protocol import Backend

log = logging.getLogger("fuse_trt")


def _importable(name: str) -> bool:
    if name in sys.modules:  # a module put there may have no __spec__ (find_spec raises)
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def tensorrt_installed() -> bool:
    return all(_importable(name) for name in ("tensorrt", "pycuda"))


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def available_backends() -> list[str]:
    names = [BackendName.ONNXRUNTIME]
    if torch_installed():
        names.append(BackendName.TORCH)
    if tensorrt_installed():
        names.append(BackendName.TENSORRT)
    return names


@dataclass(frozen=True)
class BackendSelection:
    """Which backend and precision a run uses, and why the ones ``auto`` prefers were not."""

    name: BackendName  # never AUTO
    precision: Precision
    requested: BackendName = BackendName.AUTO
    providers: tuple[str, ...] | None = None  # ONNX Runtime execution providers
    skipped: tuple[str, ...] = ()  # "tensorrt: <why not>", in preference order

    def describe(self) -> str:
        """One line: what runs, then what auto skipped and why."""
        what = f"{self.name}" + (f" ({', '.join(self.providers)})" if self.providers else "")
        line = f"backend {what}, precision {self.precision}"
        if self.requested == BackendName.AUTO:
            line += " (auto)"
        if self.skipped:
            line += "; skipped " + "; ".join(self.skipped)
        return line


def tensorrt_unusable() -> str | None:
    """None if TensorRT and pycuda import and a CUDA GPU is present, else why not."""
    from fuse_trt.runtime.cuda_memory import load_pycuda
    from fuse_trt.runtime.trt_compat import load_tensorrt

    if not tensorrt_installed():
        return "TensorRT or pycuda is not installed (pip install 'fuse-trt[gpu]')"
    try:
        load_tensorrt()
        cuda = load_pycuda()
        count = cuda.Device.count()
    except BackendUnavailableError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - a driver error here means no usable GPU
        return f"CUDA does not start ({type(error).__name__}: {error})"
    return None if count > 0 else "no CUDA GPU found"


def ort_cuda_unusable() -> str | None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return None
    return "this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"


def default_precision(backend: BackendName) -> Precision:
    """FP16 on TensorRT (what the product promises), FP32 elsewhere."""
    return Precision.FP16 if backend == BackendName.TENSORRT else Precision.FP32


def select_backend(bundle: Bundle, requested: BackendName | str = BackendName.AUTO,
                   precision: Precision | str | None = None,
                   plans_buildable: bool = False) -> BackendSelection:
    """The backend a run uses. ``auto``: TensorRT when the gpu extra imports and a GPU is
    present, then ONNX Runtime on CUDA, then ONNX Runtime on CPU. A named backend that
    cannot run here is a :class:`BackendUnavailableError`, never a silent fallback.
    ``precision`` None: :func:`default_precision` of the chosen backend.
    ``plans_buildable``: the caller builds a missing plan on first use (fuse_trt.engine_cache),
    so ``auto`` does not need one in the bundle."""
    requested = parse(BackendName, requested, "backend")
    wanted = None if precision is None else parse(Precision, precision, "precision")
    if requested != BackendName.AUTO:
        return _named_selection(requested, wanted)
    skipped = []
    tensorrt_problem = tensorrt_unusable() or (
        None if plans_buildable else _missing_plan(bundle, wanted or Precision.FP16))
    if tensorrt_problem is None:
        return BackendSelection(BackendName.TENSORRT, wanted or Precision.FP16)
    skipped.append(f"tensorrt: {tensorrt_problem}")
    cuda_problem = ort_cuda_unusable()
    if cuda_problem is None:
        return BackendSelection(BackendName.ONNXRUNTIME, wanted or Precision.FP32,
                                providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
                                skipped=tuple(skipped))
    skipped.append(f"onnxruntime CUDA: {cuda_problem}")
    return BackendSelection(BackendName.ONNXRUNTIME, wanted or Precision.FP32,
                            providers=("CPUExecutionProvider",), skipped=tuple(skipped))


def _named_selection(name: BackendName, precision: Precision | None) -> BackendSelection:
    precision = precision or default_precision(name)
    if name == BackendName.TENSORRT and (problem := tensorrt_unusable()) is not None:
        raise BackendUnavailableError(f"--backend tensorrt cannot run here: {problem}")
    if name == BackendName.TORCH and precision == Precision.INT8:
        raise ConfigError("the torch backend has no int8 (use onnxruntime or tensorrt)")
    return BackendSelection(name, precision, requested=name)


def _missing_plan(bundle: Bundle, precision: Precision) -> str | None:
    if bundle.manifest.find(ArtifactKind.PLAN, precision, BackendName.TENSORRT):
        return None
    return (f"the bundle has no {precision} TensorRT plan "
            f"(fuse-trt build --backend tensorrt --precision {precision} -o DIR)")


def resolve_backend_name(bundle: Bundle, requested: BackendName | str,
                         precision: Precision | str) -> BackendName:
    return select_backend(bundle, requested, precision).name


def open_backend(bundle: Bundle, backend: BackendName | str = BackendName.AUTO,
                 precision: Precision | str | None = None, url: str | None = None) -> Backend:
    """An inactive backend for ``bundle``; call ``activate()`` (or use ``with``). ``url``:
    the server of the ``triton`` backend."""
    return open_selected(bundle, select_backend(bundle, backend, precision), url)


def open_selected(bundle: Bundle, selection: BackendSelection,
                  url: str | None = None) -> Backend:
    """An inactive backend for ``selection`` (from :func:`select_backend`)."""
    name, precision = selection.name, selection.precision
    log.info("%s", selection.describe())
    if name == BackendName.ONNXRUNTIME:
        from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend, OrtConfig

        path = bundle.artifact_path(ArtifactKind.ONNX, precision)
        return OnnxRuntimeBackend(path, bundle.spec, bundle.tiers, precision,
                                  OrtConfig(providers=selection.providers))
    if name == BackendName.TORCH:
        return _torch_backend(bundle, precision)
    if name == BackendName.TRITON:
        return _triton_backend(bundle, precision, url)
    return open_tensorrt(bundle, precision)


def bundle_plan_candidates(bundle: Bundle, precision: str) -> list:
    """The bundle's TensorRT plans of ``precision`` with their sidecars, in manifest order."""
    from fuse_trt.runtime.plan_choice import PlanCandidate
    from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path

    candidates = []
    for artifact in bundle.manifest.find(ArtifactKind.PLAN, precision, BackendName.TENSORRT):
        path = bundle.directory / artifact.file
        if path.is_file() and sidecar_path(path).is_file():
            candidates.append(PlanCandidate(path, PlanSidecar.read(sidecar_path(path))))
    return candidates


def here(device: int = 0):
    """(TensorRT version, GPU) of this machine; imports tensorrt and pycuda."""
    from fuse_trt.runtime.cuda_memory import load_pycuda, query_gpu
    from fuse_trt.runtime.trt_compat import load_tensorrt

    return load_tensorrt().version, query_gpu(load_pycuda(), device)


def model_onnx_sha256(bundle: Bundle) -> str | None:
    onnx = bundle.manifest.find(ArtifactKind.ONNX, Precision.FP32)
    return onnx[-1].sha256 if onnx else None


def open_tensorrt(bundle: Bundle, precision: str, extra_candidates: tuple = ()) -> Backend:
    """The TensorRT backend over the plans that serve each tier here (bundle plans, then
    ``extra_candidates`` such as engine-cache plans); PlanMismatchError says how to build."""
    from fuse_trt.runtime.plan_choice import explain_no_plan, select_plans
    from fuse_trt.runtime.tensorrt_backend import TensorRTBackend

    version, gpu = here()
    candidates = [*bundle_plan_candidates(bundle, precision), *extra_candidates]
    selection = select_plans(candidates, version, gpu, precision, bundle.tiers)
    if selection is None:
        raise PlanMismatchError(explain_no_plan(candidates, version, gpu, precision,
                                                bundle.tiers, bundle.directory))
    for path in set(selection.routes.values()):
        if path.parent == bundle.directory:
            bundle.artifact_path(ArtifactKind.PLAN, precision, BackendName.TENSORRT,
                                 file=path.name)  # checks the sha256
    log.info("tensorrt plans: %s", {tier: path.name for tier, path in selection.routes.items()})
    return TensorRTBackend(selection.routes, bundle.spec, selection.tiers, precision,
                           model_onnx_sha256=model_onnx_sha256(bundle))


def _torch_backend(bundle: Bundle, precision: Precision) -> Backend:
    if not torch_installed():
        raise BackendUnavailableError("the torch backend needs PyTorch: pip install "
                                      "'fuse-trt[export]' -c constraints-cpu.txt")
    if bundle.manifest.unet_config is None:
        raise BundleError(f"{bundle.directory}: the torch backend needs a built-in FusionUNet "
                          "bundle (this one holds only ONNX)")
    from fuse_trt.runtime.torch_backend import TorchBackend

    weights = bundle.artifact_path(ArtifactKind.WEIGHTS, Precision.FP32)
    config = bundle.manifest.unet_config

    def make_model():
        from fuse_trt.engine.unet import UNetConfig, load_fusion_unet

        return load_fusion_unet(UNetConfig(**config), weights)

    device = "cpu"
    if precision == Precision.FP16:
        device = "cuda"
    return TorchBackend(make_model, bundle.spec, bundle.tiers, precision, device=device)


def _triton_backend(bundle: Bundle, precision: Precision, url: str | None) -> Backend:
    if not url:
        raise BackendUnavailableError("the triton backend needs the server's address: "
                                      "--url HOST:PORT (grpc://HOST:PORT for gRPC)")
    from fuse_trt.runtime.triton_backend import TritonBackend

    return TritonBackend(url, bundle.spec, bundle.tiers, precision)
