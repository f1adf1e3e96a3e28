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
