"""The TensorRT API dumps (tests/data/trt-api/*.json) and their pybind11 signatures."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

DUMP_DIR = Path(__file__).resolve().parents[2] / "data" / "trt-api"
VERSIONS = ("8.6.1", "10.3.0", "10.16.1.11", "11.4.0.106")


@functools.cache
def load_dump(version: str) -> dict:
    return json.loads((DUMP_DIR / f"{version}.json").read_text())


def is_enum(members: dict) -> bool:
    """Enums are dumped as classes with ``name``/``value`` properties and member attrs."""
    kinds = {name: entry["kind"] for name, entry in members.items()}
    return (kinds.get("name") == "property" and kinds.get("value") == "property"
            and any(kind == "attr" for kind in kinds.values()))


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str
    has_default: bool


@dataclass(frozen=True)
class Signature:
    text: str
    params: tuple[Param, ...]  # without self


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on separators outside brackets (types like Sequence[int], <Enum.X: 0>)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(<":
            depth += 1
        elif char in "])>" and not (char == ">" and current and current[-1] == "-"):
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def parse_signature(text: str) -> Signature:
    """'f(self: T, a: int, b: X = <X.Y: 0>) -> R' -> params a (required), b (default)."""
    start = text.index("(")
    depth, end = 0, start
    for end in range(start, len(text)):
        depth += text[end] in "([<" and 1 or 0
        depth -= text[end] in ")]>" and text[end - 1] != "-" and 1 or 0
        if depth == 0:
            break
    params = []
    for part in split_top_level(text[start + 1:end]):
        head, _, default = part.partition("=")
        name, _, annotation = head.partition(":")
        params.append(Param(name.strip(), annotation.strip(), bool(default.strip())))
    if params and params[0].name == "self":
        params = params[1:]
    return Signature(text, tuple(params))


def annotation_class(annotation: str) -> str | None:
    """'tensorrt_bindings.tensorrt.BuilderFlag' or 'nvinfer1::BuilderFlag' -> 'BuilderFlag'."""
    match = re.fullmatch(r"(?:tensorrt_bindings\.tensorrt\.|tensorrt\.|\w+::)(\w+)", annotation)
    return match.group(1) if match else None
