"""Every bad input and fault that tests/test_bad_inputs.py puts through the CLI, in one list,
so docs/make_bad_input_table.py writes the table of exit codes and messages from the same cases.

A case's argv may name prepared things in braces: ``{text}`` a text file called text.jpg,
``{png}`` an existing file, ``{ro}`` a directory nobody may write in (a read-only tmpfs when
this process can mount one, else mode 0555, which binds everyone but root), ``{video}`` a
40-frame MJPG .avi with a face, ``{truncated}`` the same file cut to its first 26 frames'
bytes, ``{bundle}`` a copy of the shipped bundle, ``{damaged}`` a copy whose model.onnx has
changed, ``{out}`` a fresh directory; target files: ``{empty}`` an empty .png, ``{cut}`` the
first 400 bytes of a JPEG, ``{head}`` the first 60 bytes of a PNG, ``{huge}`` and ``{bomb}`` PNG
headers claiming 9000x9000 and 20000x20000 pixels over 8x8 of data, ``{wall}`` a grey photo with
no face. Point "-" marks bad input the issue found already handled.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import zlib
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

USAGE, RUNTIME = 2, 1
DiskUsage = namedtuple("DiskUsage", "total used free")


@dataclass(frozen=True)
class Case:
    name: str
    defect: str  # the point of issue 16 it checks
    argv: tuple[str, ...]
    code: int  # expected exit status
    message: str  # expected in the one stderr line


def _fuse(target: str, *options: str) -> tuple[str, ...]:
    return ("fuse", "sample:grace_hopper", target, *options)


CASES = (
    Case("tier 0", "3", ("build", "-o", "{out}/b", "--tiers", "0"), USAGE, "must lie in 16..2048"),
    Case("tier -512", "3", ("build", "-o", "{out}/b", "--tiers", "-512"), USAGE,
         "must lie in 16..2048"),
    Case("tier 500", "3", ("build", "-o", "{out}/b", "--tiers", "500"), USAGE,
         "multiples of the model's stride 16"),
    Case("tier 100000", "3", ("build", "-o", "{out}/b", "--tiers", "100000"), USAGE,
         "must lie in 16..2048"),
    Case("tier twice", "3", ("build", "-o", "{out}/b", "--tiers", "512,512"), USAGE,
         "each tier once"),
    Case("build -o a file", "3", ("build", "-o", "{png}"), RUNTIME, "exists and is not a directory"),
    Case("build --weights text", "3", ("build", "-o", "{out}/b", "--weights", "{text}"), RUNTIME,
         "not a safetensors weights file"),
    Case("build --onnx text", "3", ("build", "-o", "{out}/b", "--onnx", "{text}"), RUNTIME,
         "not an ONNX model"),
    Case("build -o read-only", "3", ("build", "-o", "{ro}/b"), RUNTIME, "cannot write in"),
    Case("calibrate -o read-only", "3", ("calibrate", "-o", "{ro}/c"), RUNTIME, "cannot write in"),
    Case("bench --plot read-only", "3", ("bench", "--plot", "{ro}/p.png", "--quiet"), RUNTIME,
         "cannot write in"),
    Case("stream -o read-only", "3,8", ("stream", "--source", "sample:grace_hopper", "{video}",
                                         "-o", "{ro}/out.mp4"), RUNTIME, "cannot write in"),
    Case("fuse -o read-only", "3", ("fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                                     "{ro}/f.png"), RUNTIME, "cannot write in"),
    Case("build over a bundle", "6", ("build", "--tiers", "512", "-o", "{bundle}"), RUNTIME,
         "pass --force to replace all of it"),
    Case("info on a damaged bundle", "6", ("info", "{damaged}"), RUNTIME,
         "1 artifact(s) fail verification: model.onnx: sha256"),
    Case("--bundle FILE", "8", ("fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                                 "{out}/f.png", "--bundle", "{png}"), RUNTIME, "is a file"),
    Case("bench tensorrt absent", "8", ("bench", "--backends", "tensorrt", "--quiet"), RUNTIME,
         "tensorrt is not installed"),
    Case("stream of a truncated file", "8", ("stream", "--source", "sample:grace_hopper",
                                              "{truncated}", "-o", "-", "--blend", "classic",
                                              "--every", "5"), RUNTIME,
         "reading stopped after 26 of the 40 frames"),
    Case("fuse --face abc", "9", ("fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                                   "{out}/f.png", "--face", "abc"), USAGE,
         "face must be largest, all or an index"),
    Case("stream --face abc", "9", ("stream", "--source", "sample:grace_hopper", "{video}", "-o",
                                     "-", "--face", "abc"), USAGE,
         "face must be largest, all or an index"),
    Case("fuse --ratio nan", "9", ("fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                                    "{out}/f.png", "--ratio", "nan"), USAGE, "got nan"),
    Case("fuse --ratio 2", "9", ("fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                                  "{out}/f.png", "--ratio", "2"), USAGE, "0<=x<=1"),
    Case("bench --json missing dir", "9", ("bench", "--json", "{out}/missing/r.json", "--quiet"),
         RUNTIME, "does not exist"),
    Case("stream --json missing dir", "9", ("stream", "--source", "sample:grace_hopper", "{video}",
                                             "-o", "-", "--json", "{out}/missing/s.json"), RUNTIME,
         "does not exist"),
    Case("fuse -o missing dir", "9", _fuse("sample:astronaut", "-o", "{out}/missing/f.png"),
         RUNTIME, "does not exist"),
    Case("build --tiers big", "3", ("build", "-o", "{out}/b", "--tiers", "big"), USAGE,
         "expected comma-separated short edges such as 512,768,1024"),
    Case("info on a missing bundle", "-", ("info", "{out}/nothing"), RUNTIME,
         "bundle directory not found"),
    *(Case(f"target {name}", "-", _fuse(target, "-o", "{out}/f.png"), RUNTIME, message)
      for name, target, message in (
          ("missing", "{out}/nope.png", "file not found"), ("empty", "{empty}", "file is empty"),
          ("truncated JPEG", "{cut}", "truncated"), ("text", "{text}", "not a readable image"),
          ("PNG header only", "{head}", "truncated"), ("9000x9000", "{huge}", "9000x9000 is over"),
          ("20000x20000 header", "{bomb}", "pixel cap"),
          ("without a face", "{wall}", "no face found in the target image"))),
    Case("source without a face", "-", ("fuse", "{wall}", "sample:astronaut", "-o", "{out}/f.png"),
         RUNTIME, "no face found in the source image"),
    Case("fuse -o unknown type", "-", _fuse("sample:astronaut", "-o", "{out}/f.xyz"), RUNTIME,
         "cannot write images of type '.xyz'"),
    Case("unknown sample", "-", _fuse("sample:nobody", "-o", "{out}/f.png"), RUNTIME,
         "unknown sample 'nobody'"),
    Case("unknown backend", "-", _fuse("sample:astronaut", "-o", "{out}/f.png", "--backend", "tpu"),
         USAGE, "'tpu' is not one of"),
    Case("face index past the faces", "-", _fuse("sample:astronaut", "-o", "{out}/f.png", "--face",
                                                 "3"), RUNTIME, "face index 3 requested"),
)


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


def _mount_tmpfs(directory: Path, options: str) -> bool:
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
                            capture_output=True)
    return result.returncode == 0


def unmount(directory: Path) -> None:
    subprocess.run(["umount", str(directory)], capture_output=True)


def read_only_dir(directory: Path) -> tuple[Path, bool]:
    """(a directory that refuses new files, whether it is a mount to undo)."""
    directory.mkdir()
    if _can_mount() and _mount_tmpfs(directory, "ro,size=16k"):
        return directory, True
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return directory, False
    return Path("/proc"), False  # root without mount: /proc takes no new files from anyone


def small_disk(directory: Path, size: str = "150k") -> bool:
    """Mount a tmpfs of ``size`` at ``directory``; False when this process cannot."""
    directory.mkdir()
    return _can_mount() and _mount_tmpfs(directory, f"size={size}")


@contextlib.contextmanager
def full_disk(disk: Path, size_bytes: int = 150 << 10):
    """(directory, real): a real tmpfs of ``size_bytes`` where this process may mount one, else
    a directory whose free space, as the stream sink sees it (shutil.disk_usage), shrinks by
    what is written into it."""
    if small_disk(disk, f"{size_bytes >> 10}k"):
        try:
            yield disk, True
        finally:
            unmount(disk)
        return
    from unittest import mock

    def usage(path):
        used = sum(p.stat().st_size for p in disk.iterdir())
        return DiskUsage(size_bytes, used, max(0, size_bytes - used))
    with mock.patch("fuse_trt.stream.sinks.shutil.disk_usage", usage):
        yield disk, False


def damaged_before_close(path: Path):
    """A VideoSink for ``path`` with 3 frames written and its temp file finished, then cut
    short as a full disk would leave it; its close() is what is left to run."""
    from fuse_trt.stream.sinks import VideoSink

    sink = VideoSink(path, 10.0)
    for value in (40, 120, 200):
        sink.write(np.full((48, 64, 3), value, np.uint8))
    sink._writer.release()
    sink.temp_path.write_bytes(sink.temp_path.read_bytes()[:300])
    sink._writer = cv2.VideoWriter()
    return sink


def _png_claiming(side: int) -> bytes:
    """An 8x8 PNG whose header says side x side (decoding it would fail)."""
    png = bytearray(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    png[16:24] = side.to_bytes(4, "big") * 2
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    return bytes(png)


def write_face_video(path: Path, frames: int = 40) -> Path:
    from fuse_trt.engine.faces import load_sample

    photo = cv2.resize(load_sample("grace_hopper"), (320, 400))[40:280]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for index in range(frames):
        writer.write(cv2.cvtColor(np.roll(photo, index, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def truncate_after_frames(video: Path, path: Path, kept: int) -> Path:
    """The first ``kept`` JPEG frames of an MJPG .avi, the rest of the file cut off."""
    data = video.read_bytes()
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    path.write_bytes(data[:starts[kept]])
    return path


def write_orientation_6(upright: np.ndarray, path: Path) -> Path:
    """``upright`` stored turned 90 degrees anticlockwise, tagged EXIF orientation 6
    (viewers turn it clockwise to show it upright)."""
    from PIL import Image

    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(path, quality=95, exif=exif.tobytes())
    return path


@dataclass
class Prepared:
    values: dict
    mounts: list

    def close(self) -> None:
        for directory in self.mounts:
            unmount(directory)


def prepare(root: Path) -> Prepared:
    from fuse_trt.models import default_bundle_dir

    values, mounts = {}, []
    values["out"] = root / "out"
    values["out"].mkdir()
    values["text"] = root / "text.jpg"
    values["text"].write_text("not an image, weights or a model\n")
    values["png"] = root / "existing.png"
    values["png"].write_bytes(b"\x89PNG existing output")
    values["ro"], mounted = read_only_dir(root / "ro")
    mounts += [values["ro"]] if mounted else []
    values["video"] = write_face_video(root / "in.avi")
    values["truncated"] = truncate_after_frames(values["video"], root / "truncated.avi", 26)
    values["bundle"] = Path(shutil.copytree(default_bundle_dir(), root / "bundle"))
    values["damaged"] = Path(shutil.copytree(default_bundle_dir(), root / "damaged"))
    with open(values["damaged"] / "model.onnx", "ab") as onnx_file:
        onnx_file.write(b"\0")
    files = {"empty": b"", "head": cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1][:60],
             "huge": _png_claiming(9000), "bomb": _png_claiming(20000),
             "wall": cv2.imencode(".png", np.full((300, 300, 3), 128, np.uint8))[1]}
    for name, data in files.items():
        values[name] = root / f"{name}.png"
        values[name].write_bytes(bytes(data))
    from fuse_trt.engine.faces import sample_path

    values["cut"] = root / "cut.jpg"
    values["cut"].write_bytes(sample_path("astronaut").read_bytes()[:400])
    return Prepared(values, mounts)


def argv_for(case: Case, prepared: Prepared) -> list[str]:
    return [part.format(**prepared.values) for part in case.argv]


def run_in_process(argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of ``fuse-trt argv`` run through the CLI's main()."""
    from fuse_trt.cli import main

    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exit_info:
            code = exit_info.code if isinstance(exit_info.code, int) else 1
    return code, err.getvalue()


@contextlib.contextmanager
def prepared_inputs():
    with tempfile.TemporaryDirectory(prefix="fuse-trt-bad-inputs.") as scratch:
        prepared = prepare(Path(scratch))
        try:
            yield prepared
        finally:
            prepared.close()
