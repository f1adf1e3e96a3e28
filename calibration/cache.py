"""Calibration sets cached as .npz files named by a key of everything that shapes them."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fuse_trt.calibration.compact import decode, encode
from fuse_trt.calibration.dataset import (CalibrationConfig, CalibrationSample, Progress,
                                          build_samples)
from fuse_trt.calibration.images import Split, image_sources
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

CACHE_FORMAT = 2  # 2: compact tensors (uint8 PNG / zlib); 1 held float32 feeds


def set_key(spec: ModelSpec, tiers: TierTable, config: CalibrationConfig, split: Split) -> str:
    """A short hash of the config, tiers, model inputs and image list of one split."""
    described = {"format": CACHE_FORMAT, "config": asdict(config), "tiers": tiers.to_json(),
                 "inputs": [asdict(tensor) for tensor in spec.inputs], "split": split,
                 "images": [source.name for source in image_sources(split)]}
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(cache_dir: Path, spec: ModelSpec, tiers: TierTable, config: CalibrationConfig,
               split: Split) -> Path:
    return Path(cache_dir) / f"{split}-{set_key(spec, tiers, config, split)}.npz"


def save_samples(path: Path, samples: list[CalibrationSample]) -> Path:
    """Write samples to one .npz atomically, each tensor PNG- or zlib-encoded (compact.py)."""
    path = Path(path)
    arrays, index = {}, []
    for position, sample in enumerate(samples):
        headers = {}
        for name, stored in sample.stored.items():
            data, headers[name] = encode(stored)
            arrays[f"{position}:{name}"] = np.frombuffer(data, dtype=np.uint8)
        index.append({"name": sample.name, "tier": sample.tier, "tensors": headers})
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    temp_path = path.with_name(f".{path.stem}.tmp.npz")
    try:
        path.parent.mkdir(exist_ok=True)  # the cache directory; its parent must exist
        np.savez(temp_path, **arrays)
        os.replace(temp_path, path)
    except OSError as error:
        temp_path.unlink(missing_ok=True)
        raise FuseTrtError(f"{path}: cannot write the calibration set ({error.strerror})") \
            from error
    return path


def load_samples(path: Path) -> list[CalibrationSample]:
    try:
        with np.load(Path(path)) as archive:
            index = json.loads(archive["__index__"].tobytes().decode())
            return [CalibrationSample(entry["name"], entry["tier"], {
                name: decode(archive[f"{position}:{name}"].tobytes(), header)
                for name, header in entry["tensors"].items()})
                for position, entry in enumerate(index)]
    except (OSError, ValueError, KeyError, TypeError, zlib.error) as error:
        raise FuseTrtError(f"{path}: not a readable calibration set ({error})") from error


def cached_samples(cache_dir: Path | None, spec: ModelSpec, tiers: TierTable,
                   config: CalibrationConfig, split: Split = "calibration",
                   progress: Progress | None = None) -> list[CalibrationSample]:
    """Load the split from ``cache_dir`` when cached there, else build (and cache) it."""
    if cache_dir is None:
        return build_samples(spec, tiers, config, split, progress)
    path = cache_path(cache_dir, spec, tiers, config, split)
    if path.is_file():
        log.info("calibration: using cached %s set %s", split, path)
        return load_samples(path)
    samples = build_samples(spec, tiers, config, split, progress)
    save_samples(path, samples)
    log.info("calibration: cached %d %s samples in %s", len(samples), split, path)
    return samples
