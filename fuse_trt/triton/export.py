"""`fuse-trt export-triton`: a Triton model repository from a bundle.

One model per (engine, precision, tier): ``fusion_trt_<precision>_<tier>`` for each
TensorRT plan (``tensorrt_plan`` platform, its instance group on the tier's profile) and
``fusion_onnx_<precision>_<tier>`` for the ONNX engine on Triton's Python backend (CPU).
The repository is written into a temp directory beside ``out_dir`` and renamed into place.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fuse_trt.engine.bundle import Artifact, Bundle
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.tiers import TierTable
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.triton import configs, pbtxt
from fuse_trt.triton.readme import repository_readme
from fuse_trt.triton.serve_onnx import ENGINE_FILE

log = logging.getLogger("fuse_trt")

ONNX_PRECISIONS = ("fp32", "int8")  # what ONNX Runtime runs on a CPU
SERVE_ONNX = Path(__file__).with_name("serve_onnx.py")


@dataclass(frozen=True)
class TritonModel:
    """One model of the repository."""

    name: str
    engine: str  # "onnx" (Python backend) or "tensorrt"
    precision: str
    tier: str


def model_name(engine: str, precision: str, tier: str, tag: str = "") -> str:
    short = {"onnx": "onnx", "tensorrt": "trt"}[engine]
    return "_".join(part for part in ("fusion", short, precision, tag, tier) if part)


def export_triton(bundle: Bundle, out_dir: Path) -> list[TritonModel]:
    """Write the repository for every ONNX (fp32/int8) and GPU plan of ``bundle``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FuseTrtError(f"{out_dir}: exists and is not an empty directory; choose a new one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        models = _onnx_models(bundle, staging) + _plan_models(bundle, staging)
        (staging / "README.md").write_text(repository_readme(bundle, models))
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return models


def _write_config(model_dir: Path, config: dict) -> None:
    model_dir.mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(pbtxt.dumps(config))
    (model_dir / "1").mkdir()


def _onnx_models(bundle: Bundle, repo: Path) -> list[TritonModel]:
    models = []
    for precision in ONNX_PRECISIONS:
        if not bundle.manifest.find("onnx", precision):
            continue
        onnx_path = bundle.artifact_path("onnx", precision)
        for tier in bundle.tiers:
            name = model_name("onnx", precision, tier.name)
            _write_config(repo / name, configs.python_onnx_config(
                name, bundle.spec, tier, precision))
            version = repo / name / "1"
            _link_or_copy(onnx_path, version / "model.onnx")
            shutil.copyfile(SERVE_ONNX, version / "model.py")
            engine = {"spec": bundle.spec.to_json(), "precision": precision, "onnx": "model.onnx",
                      "tiers": TierTable((tier,), bundle.tiers.stride).to_json()}
            (version / ENGINE_FILE).write_text(json.dumps(engine, indent=2, sort_keys=True))
            models.append(TritonModel(name, "onnx", precision, tier.name))
    return models


def _gpu_plans(bundle: Bundle) -> list[Artifact]:
    plans = bundle.manifest.find("plan", backend="tensorrt")
    skipped = [plan.file for plan in plans if plan.details.get("dla_core") is not None]
    if skipped:
        log.warning("DLA plans are not exported to Triton (static shapes): %s", ", ".join(skipped))
    return [plan for plan in plans if plan.details.get("dla_core") is None]


def _plan_models(bundle: Bundle, repo: Path) -> list[TritonModel]:
    plans = _gpu_plans(bundle)
    models = []
    for plan in plans:
        path = bundle.artifact_path("plan", plan.precision, "tensorrt", file=plan.file)
        sidecar = PlanSidecar.read(sidecar_path(path))
        same_precision = [p for p in plans if p.precision == plan.precision]
        tag = _plan_tag(sidecar) if len(same_precision) > 1 else ""
        for tier_name, profile in sidecar.profiles.items():
            name = model_name("tensorrt", plan.precision, tier_name, tag)
            max_batch = int(next(iter(profile["inputs"].values()))["max"][0])
            _write_config(repo / name, configs.tensorrt_plan_config(
                name, bundle.spec, tier_name, int(profile["index"]), max_batch))
            _link_or_copy(path, repo / name / "1" / "model.plan")
            models.append(TritonModel(name, "tensorrt", plan.precision, tier_name))
    return models


def _plan_tag(sidecar: PlanSidecar) -> str:
    raw = f"trt{sidecar.tensorrt_version}_sm{''.join(map(str, sidecar.compute_capability))}"
    return "".join(char if char.isalnum() else "_" for char in raw)


def _link_or_copy(source: Path, destination: Path) -> None:
    """A hard link where the file system allows one (plans are large), else a copy."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


__all__ = ["TritonModel", "export_triton", "model_name"]
