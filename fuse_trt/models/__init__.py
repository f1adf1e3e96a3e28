"""The default fusion model that ships inside the package (a bundle directory)."""
from __future__ import annotations

from pathlib import Path

DEFAULT_BUNDLE_NAME = "default"


def default_bundle_dir() -> Path:
    return Path(__file__).resolve().parent / DEFAULT_BUNDLE_NAME
