"""A writer for the protobuf text format of Triton's ``config.pbtxt``.

Only what a model configuration needs: nested messages (dicts), repeated fields (lists),
strings, numbers, booleans and enum names (:class:`Enum` values, written bare).
"""
from __future__ import annotations

import json
from collections.abc import Mapping


class EnumValue(str):
    """An enum value such as TYPE_FP32 or KIND_GPU: written without quotes."""


def _scalar(value: object) -> str:
    if isinstance(value, EnumValue):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"cannot write {value!r} in a model config")


def _field(name: str, value: object, indent: str) -> list[str]:
    if isinstance(value, Mapping):
        return [f"{indent}{name} {{", *_message(value, indent + "  "), f"{indent}}}"]
    if isinstance(value, (list, tuple)):
        if all(not isinstance(item, Mapping) for item in value):
            return [f"{indent}{name}: [{', '.join(_scalar(item) for item in value)}]"]
        lines = []
        for item in value:
            lines += _field(name, item, indent)
        return lines
    return [f"{indent}{name}: {_scalar(value)}"]


def _message(message: Mapping, indent: str) -> list[str]:
    lines = []
    for name, value in message.items():
        lines += _field(name, value, indent)
    return lines


def dumps(config: Mapping) -> str:
    """``config`` as protobuf text; a map field is a list of {"key": ..., "value": ...}."""
    return "\n".join(_message(config, "")) + "\n"
