"""Files written whole or not at all (temp file in the same directory, then rename), and
their sha256."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from fuse_trt.engine.errors import FuseTrtError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_writable_directory(directory: Path, what: Path | None = None) -> Path:
    """``directory`` exists and takes new files (tried with a probe file: permission bits
    alone say nothing for root or a read-only mount); errors name ``what`` or the directory."""
    directory, what = Path(directory), Path(what or directory)
    if not directory.is_dir():
        raise FuseTrtError(f"{what}: output directory {directory} does not exist")
    try:
        handle, probe = tempfile.mkstemp(prefix=".fuse-trt-probe.", dir=directory)
    except OSError as error:
        raise FuseTrtError(f"{what}: cannot write in {directory} ({error.strerror})") from error
    os.close(handle)
    os.unlink(probe)
    return directory


def check_output_file(path: Path) -> Path:
    """An output file's path before any work: not a directory, in a writable directory that
    exists (fuse-trt never creates missing parent directories)."""
    path = Path(path)
    if path.is_dir():
        raise FuseTrtError(f"{path}: is a directory; give an output file name")
    check_writable_directory(path.parent, path)
    return path


def check_output_directory(path: Path) -> Path:
    """An output directory (a bundle, a calibration cache) before any work: an existing
    directory or a new name in a writable directory that exists."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FuseTrtError(f"{path}: exists and is not a directory; give a new or existing "
                           "directory")
    check_writable_directory(path if path.is_dir() else path.parent, path)
    return path


def write_bytes_atomic(path: Path, data) -> Path:
    """Write ``data`` (anything with the buffer protocol) to a temp file beside ``path``, then
    rename it over ``path``; errors name the path."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FuseTrtError(f"{path}: output directory {path.parent} does not exist")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise FuseTrtError(f"{path}: cannot write there ({error.strerror})") from error
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(memoryview(data))
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise FuseTrtError(f"{path}: cannot write there ({error.strerror})") from error
    return path


def write_json_atomic(path: Path, data: dict) -> Path:
    return write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
