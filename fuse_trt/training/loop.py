"""The training loop of the blend UNet, in two phases from one seed.

Phase 1 trains the colour head alone: it reads only masked statistics, so it needs no
convolution and sees many pairs per second. Phase 2 trains the whole network (the seam head
and the encoder-decoder it reads, with the colour head fine-tuned). The schedule is fixed in
steps, so a run that completes reproduces the same weights; a wall-clock cap may stop it early.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.training.images import TRAIN_IMAGES, load_images
from fuse_trt.training.pairs import PairConfig, random_batch
from fuse_trt.engine.unet import (DEFAULT_UNET_CONFIG, NARROW_UNET_CONFIG, TINY_UNET_CONFIG,
                                  FusionUNet, UNetConfig)

log = logging.getLogger("fuse_trt")


@dataclass(frozen=True)
class PhaseConfig:
    name: str
    steps: int
    batch_size: int
    learning_rate: float
    whole_network: bool


@dataclass(frozen=True)
class TrainConfig:
    unet: UNetConfig
    phases: tuple[PhaseConfig, ...]
    pairs: PairConfig = field(default_factory=PairConfig)
    images: tuple[str, ...] = TRAIN_IMAGES
    seam_weight: float = 0.5  # weight of the seam-band L1 next to the in-mask L1
    threads: int = 1  # fixed: results depend on the thread count
    tier_short_edges: tuple[int, ...] = (512, 768, 1024)  # of the bundle written after training


DEFAULT_PHASES = (PhaseConfig("colour", 2000, 32, 2e-3, whole_network=False),
                  PhaseConfig("joint", 450, 8, 5e-4, whole_network=True))

TRAIN_CONFIGS: dict[str, TrainConfig] = {
    "default": TrainConfig(unet=DEFAULT_UNET_CONFIG, phases=DEFAULT_PHASES),
    "narrow": TrainConfig(unet=NARROW_UNET_CONFIG, phases=DEFAULT_PHASES),
    "tiny": TrainConfig(unet=TINY_UNET_CONFIG, pairs=PairConfig(size=32),
                        tier_short_edges=(32, 48, 64), phases=(
        PhaseConfig("colour", 3, 4, 2e-3, whole_network=False),
        PhaseConfig("joint", 3, 2, 5e-4, whole_network=True))),
}


@dataclass(frozen=True)
class StepRecord:
    phase: str
    step: int
    loss: float
    in_mask: float
    seam: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    model: FusionUNet
    records: tuple[StepRecord, ...]
    completed: bool  # False: the wall-clock cap stopped it before the last step
    seconds: float


def fusion_loss(fused: torch.Tensor, batch: dict[str, torch.Tensor],
                seam_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, in-mask L1, seam-band L1), each a mean over weighted pixels and channels."""
    error = (fused - batch["target"]).abs()
    mask = batch["mask"]
    band = 4.0 * mask * (1.0 - mask)
    in_mask = (error * mask).sum() / (3.0 * mask.sum() + 1e-6)
    seam = (error * band).sum() / (3.0 * band.sum() + 1e-6)
    return in_mask + seam_weight * seam, in_mask, seam


def _learning_rate(phase: PhaseConfig, step: int) -> float:
    warmup = max(1, phase.steps // 50)
    if step < warmup:
        return phase.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, phase.steps - warmup)
    return phase.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))


def _phase_parameters(model: FusionUNet, phase: PhaseConfig) -> list[torch.nn.Parameter]:
    if phase.whole_network:
        return list(model.parameters())
    return list(model.colour_head.parameters())


def _forward(model: FusionUNet, batch: dict[str, torch.Tensor], phase: PhaseConfig):
    inputs = tuple(batch[name] for name in FUSION_SPEC.input_names)
    return model(*inputs) if phase.whole_network else model.colour_corrected(*inputs)


class Trainer:
    """Runs the phases of a :class:`TrainConfig`; ``on_step`` sees every :class:`StepRecord`."""

    def __init__(self, config: TrainConfig, seed: int = 0,
                 on_step: Callable[[StepRecord], None] | None = None):
        self.config = config
        self.on_step = on_step or (lambda record: None)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        torch.set_num_threads(config.threads)
        self.images = load_images(config.images)
        self.model = FusionUNet(config.unet)

    @property
    def total_steps(self) -> int:
        return sum(phase.steps for phase in self.config.phases)

    def run(self, max_seconds: float | None = None) -> TrainResult:
        start, records = time.monotonic(), []
        deadline = None if max_seconds is None else start + max_seconds
        for phase in self.config.phases:
            if not self._run_phase(phase, records, start, deadline):
                log.warning("time cap reached after %d of %d steps: these weights will not match "
                            "a completed run", len(records), self.total_steps)
                return TrainResult(self.model.eval(), tuple(records), False,
                                   time.monotonic() - start)
        return TrainResult(self.model.eval(), tuple(records), True, time.monotonic() - start)

    def _run_phase(self, phase: PhaseConfig, records: list, start: float,
                   deadline: float | None) -> bool:
        self.model.train()
        optimiser = torch.optim.Adam(_phase_parameters(self.model, phase), lr=phase.learning_rate)
        for step in range(phase.steps):
            if deadline is not None and time.monotonic() > deadline:
                return False
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(phase, step)
            batch = {name: torch.from_numpy(array) for name, array in random_batch(
                self.images, self.rng, phase.batch_size, self.config.pairs).items()}
            loss, in_mask, seam = fusion_loss(_forward(self.model, batch, phase), batch,
                                              self.config.seam_weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            record = StepRecord(phase.name, len(records), loss.item(), in_mask.item(),
                                seam.item(), time.monotonic() - start)
            records.append(record)
            self.on_step(record)
        return True


class LossLog:
    """Tab-separated loss log, one line per step, flushed so a running job can be followed."""

    HEADER = "step\tphase\tloss\tin_mask_l1\tseam_l1\tseconds\n"

    def __init__(self, path: Path):
        self._file = Path(path).open("w", encoding="utf-8")
        self._file.write(self.HEADER)

    def __call__(self, r: StepRecord) -> None:
        self._file.write(f"{r.step}\t{r.phase}\t{r.loss:.5f}\t{r.in_mask:.5f}\t{r.seam:.5f}\t"
                         f"{r.seconds:.1f}\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
