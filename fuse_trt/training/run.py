"""Train the blend UNet and write it as a bundle, with a sidecar saying how it was made."""
from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from fuse_trt.build_engine.bundle_builder import BuildConfig, export_fp32
from fuse_trt.training.images import HELD_OUT_IMAGES
from fuse_trt.training.loop import (TRAIN_CONFIGS, LossLog, StepRecord, Trainer,
                                                 TrainResult)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.unet import save_fusion_unet

log = logging.getLogger("fuse_trt")

SIDECAR_NAME = "training.json"
LOSS_LOG_NAME = "train_loss.tsv"
DATA_SOURCES = ("skimage.data (scikit-image), sklearn.datasets.load_sample_image "
                "(scikit-learn); never the face photos astronaut, grace_hopper, camera")


@dataclass(frozen=True)
class TrainRun:
    config_name: str
    seed: int = 0
    max_minutes: float | None = None


def final_loss(records: tuple[StepRecord, ...], window: int = 100) -> float:
    """Mean loss of the last ``window`` steps of the last phase that ran."""
    last = [r for r in records if r.phase == records[-1].phase][-window:]
    return sum(r.loss for r in last) / len(last)


def phase_summary(records: tuple[StepRecord, ...], window: int = 100) -> dict[str, dict]:
    summary = {}
    for phase in dict.fromkeys(r.phase for r in records):
        losses = [r.loss for r in records if r.phase == phase]
        summary[phase] = {"steps": len(losses),
                          "first_loss": sum(losses[:window]) / len(losses[:window]),
                          "last_loss": sum(losses[-window:]) / len(losses[-window:])}
    return summary


def _sidecar(run: TrainRun, result: TrainResult) -> dict:
    import torch

    config = TRAIN_CONFIGS[run.config_name]
    return {
        "config": run.config_name, "seed": run.seed, "unet_config": asdict(config.unet),
        "train_config": asdict(config), "data": {"train_images": list(config.images),
                                                 "held_out_images": list(HELD_OUT_IMAGES),
                                                 "sources": DATA_SOURCES},
        "minutes": round(result.seconds / 60.0, 2), "steps": len(result.records),
        "completed": result.completed, "final_loss": round(final_loss(result.records), 5),
        "phases": phase_summary(result.records),
        "reproduce": f"fuse-trt train -o DIR --config {run.config_name} --seed {run.seed}",
        "torch": torch.__version__, "threads": config.threads, "python": platform.python_version(),
    }


def train_bundle(out_dir: Path, run: TrainRun, log_path: Path | None = None,
                 on_step: Callable[[StepRecord], None] | None = None) -> Bundle:
    """Train, then write weights, validated ONNX, manifest and ``training.json`` to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loss_log = LossLog(log_path or out_dir / LOSS_LOG_NAME)

    def record(step: StepRecord) -> None:
        loss_log(step)
        if on_step is not None:
            on_step(step)

    config = TRAIN_CONFIGS[run.config_name]
    try:
        trainer = Trainer(config, run.seed, record)
        seconds = None if run.max_minutes is None else run.max_minutes * 60.0
        result = trainer.run(seconds)
    finally:
        loss_log.close()
    weights = out_dir / ".trained.safetensors"
    save_fusion_unet(result.model, weights)
    try:
        bundle = export_fp32(out_dir, BuildConfig(unet_config=config.unet, weights=weights,
                                                  tier_short_edges=config.tier_short_edges))
    finally:
        weights.unlink(missing_ok=True)
    (out_dir / SIDECAR_NAME).write_text(json.dumps(_sidecar(run, result), indent=2) + "\n")
    log.info("trained %s for %.1f min, final loss %.4f -> %s", run.config_name,
             result.seconds / 60.0, final_loss(result.records), out_dir)
    return bundle
