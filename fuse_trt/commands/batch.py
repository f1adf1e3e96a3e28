"""`fuse-trt fuse SOURCE DIR_OR_GLOB -o OUT_DIR`: fuse every image of a folder or glob.

The engine is activated once for the run. Each output is written whole or not at all (the
image writer renames a finished temp file), so a failed file leaves nothing behind; every
failure is one line, the run ends with a summary and exits 1 if any file failed.
"""
from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fuse_trt.engine.errors import FuseTrtError

if TYPE_CHECKING:
    from fuse_trt.api import FaceFusion

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


def is_batch_target(target: str) -> bool:
    """A directory or a glob pattern (``*``, ``?``, ``[``) rather than one file."""
    return Path(target).is_dir() or any(char in target for char in "*?[")


def expand_targets(target: str) -> list[Path]:
    """The image files of a directory (not recursive) or of a glob (``**`` recurses), sorted."""
    if Path(target).is_dir():
        candidates = Path(target).iterdir()
    else:
        candidates = (Path(name) for name in glob.glob(target, recursive=True))
    images = sorted(path for path in candidates
                    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FuseTrtError(f"{target}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    names = [path.name for path in images]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise FuseTrtError(f"{target}: several images are named {', '.join(clashes[:3])}; "
                           "outputs keep the file name, so give one folder at a time")
    return images


@dataclass
class BatchSummary:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def line(self, out_dir: Path) -> str:
        total = len(self.written) + len(self.failed)
        return (f"fused {len(self.written)} of {total} images into {out_dir}"
                + (f"; {len(self.failed)} failed" if self.failed else ""))


def fuse_one(fusion: FaceFusion, target: Path, out_dir: Path) -> Path:
    from fuse_trt.commands.native_logs import native_messages_logged
    from fuse_trt.engine.images import read_image, write_image

    with native_messages_logged():
        image = read_image(target)
    fused = fusion.fuse(image.rgb)
    with native_messages_logged():
        return write_image(out_dir / target.name, fused, image.alpha)


def fuse_many(fusion: FaceFusion, targets: list[Path], out_dir: Path,
              progress: bool | None = None) -> BatchSummary:
    """Fuse each target into ``out_dir``; ``fusion`` has its source set and is prepared."""
    from tqdm import tqdm

    if out_dir.exists() and not out_dir.is_dir():
        raise FuseTrtError(f"{out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(targets, unit="image", disable=not show, file=sys.stderr) as bar:
        for target in bar:
            try:
                summary.written.append(fuse_one(fusion, target, out_dir))
            except FuseTrtError as error:
                summary.failed.append((target, str(error)))
                bar.write(f"failed {target}: {error}", file=sys.stderr)
    return summary


def run_batch(fusion: FaceFusion, target: str, out_dir: Path) -> None:
    """The CLI's folder mode: progress bar, a line per failure, a summary, exit 1 on failure."""
    targets = expand_targets(target)
    summary = fuse_many(fusion, targets, out_dir)
    click.echo(summary.line(out_dir))
    if summary.failed:
        sys.exit(1)
