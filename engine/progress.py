"""Progress over long steps (calibration sets, quantization): a callable that wraps an
iterable, so library code reports progress without knowing where it is shown."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

Progress = Callable[[Iterable], Iterable]


def progress_bar(description: str) -> Progress:
    """A tqdm bar on stderr that switches itself off when stderr is not a terminal."""
    from tqdm import tqdm

    return functools.partial(tqdm, desc=description, unit="image", disable=None, leave=False)
