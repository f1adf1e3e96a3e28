"""Strict stand-in ``tensorrt`` modules generated from an API dump.

Every dumped class becomes a class whose public members are exactly the dumped ones: any
other public attribute raises AttributeError, on the class and on its instances, even where
the behaviour behind it (``impls``) implements more. Calls are checked against the dumped
pybind11 signatures (argument count, keywords, enum/str/bool/int/class types). Enum members
carry their dumped names and integers that deliberately differ from TensorRT's and between
versions, so hard-coded integers fail. Every public access is recorded in ``module._fake_log``.
Python subclasses (loggers, calibrators) may add attributes of their own, as with pybind11.
"""
from __future__ import annotations

import importlib.machinery
import types
from collections.abc import Callable, Mapping

import numpy as np

from tests.support.tensorrt.dump import (VERSIONS, annotation_class, is_enum, load_dump,
                                  parse_signature)


class AccessLog:
    def __init__(self):
        self.names: set[str] = set()

    def record(self, name: str) -> None:
        self.names.add(name)


def _generated_base(cls: type) -> type:
    for klass in type.__getattribute__(cls, "__mro__"):
        if "_fake_members" in klass.__dict__:
            return klass
    raise TypeError(f"{cls} is not a stand-in class")


def _check_access(cls: type, name: str, instance=None, setting: bool = False) -> None:
    generated = _generated_base(cls)
    members = generated.__dict__["_fake_members"]
    qualified = f"{generated.__dict__['_fake_name']}.{name}"
    if name in members and (not setting or members[name] == "property"):
        generated.__dict__["_fake_log"].record(qualified)
        return
    mro = type.__getattribute__(cls, "__mro__")
    user_classes = mro[:mro.index(generated)]
    if user_classes and (setting or any(name in klass.__dict__ for klass in user_classes)
                         or (instance is not None and name in instance.__dict__)):
        return
    action = "cannot set" if setting else "has no attribute"
    raise AttributeError(f"tensorrt {generated.__dict__['_fake_version']} {action} {qualified}")


class StrictMeta(type):
    def __getattribute__(cls, name):
        if not name.startswith("_"):
            _check_access(cls, name)
        return type.__getattribute__(cls, name)


class StrictBase(metaclass=StrictMeta):
    def __getattribute__(self, name):
        if not name.startswith("_"):
            _check_access(type(self), name, self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if not name.startswith("_"):
            _check_access(type(self), name, self, setting=True)
        object.__setattr__(self, name, value)


class EnumBase(StrictBase):
    """A pybind11-style enum member: hashable, int()-able, equal only to its own kind."""

    def __init__(self, name: str, value: int):
        self._name, self._value = name, value

    name = property(lambda self: self._name)
    value = property(lambda self: self._value)

    def __int__(self):
        return self._value

    __index__ = __int__

    def __eq__(self, other):
        return type(other) is type(self) and other._value == self._value

    def __hash__(self):
        return hash((type(self).__name__, self._value))

    def __repr__(self):
        return f"<{type(self).__name__}.{self._name}: {self._value}>"


class CallChecker:
    """Does a call bind to one of the dumped pybind11 overloads?"""

    def __init__(self, version: str, classes: Mapping[str, type]):
        self.version, self.classes = version, classes

    def check(self, qualified: str, signatures, args, kwargs) -> None:
        if not signatures or any(self._binds(sig, args, kwargs) for sig in signatures):
            return
        texts = "; ".join(sig.text for sig in signatures)
        raise TypeError(f"tensorrt {self.version}: {qualified}() got incompatible arguments "
                        f"{args!r} {kwargs!r}; supported: {texts}")

    def _binds(self, signature, args, kwargs) -> bool:
        params = signature.params
        if any(param.name.startswith("*") for param in params):
            return True
        names = [param.name for param in params]
        if len(args) > len(params) or any(key not in names for key in kwargs):
            return False
        bound = dict(zip(names, args))
        if any(key in bound for key in kwargs):
            return False
        bound.update(kwargs)
        return all((param.name in bound and self._accepts(param.annotation, bound[param.name]))
                   or (param.name not in bound and param.has_default) for param in params)

    def _accepts(self, annotation: str, value) -> bool:
        if annotation == "object":
            return True
        if annotation == "str":
            return isinstance(value, str)
        if annotation == "bool":
            return isinstance(value, (bool, np.bool_))
        if annotation in ("int", "typing.SupportsInt"):
            return _is_int(value)
        if annotation in ("float", "typing.SupportsFloat"):
            return _is_int(value) or isinstance(value, (float, np.floating))
        if annotation in ("typing_extensions.Buffer", "buffer"):
            return isinstance(value, (bytes, bytearray, memoryview))
        if annotation in ("tuple", "list"):  # py::tuple / py::list of dims (set_input_shape)
            return (isinstance(value, tuple if annotation == "tuple" else list)
                    and all(_is_int(v) for v in value))
        element = _sequence_element(annotation)
        if element is not None:  # pybind11's list caster: any sequence but str/bytes
            return (isinstance(value, (list, tuple)) and
                    all(self._accepts(element, item) for item in value))
        name = annotation_class(annotation)
        if name is None or name not in self.classes:
            return True
        if name.startswith("Dims") and isinstance(value, (tuple, list)):
            return all(_is_int(v) for v in value)
        return isinstance(value, self.classes[name])


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, EnumBase))


def _sequence_element(annotation: str) -> str | None:
    """'List[str]' / 'collections.abc.Sequence[int]' -> the element annotation."""
    for prefix in ("List[", "collections.abc.Sequence["):
        if annotation.startswith(prefix) and annotation.endswith("]"):
            return annotation[len(prefix):-1]
    return None


def _method(qualified: str, signatures, impl: Callable | None, checker: CallChecker):
    def method(self, *args, **kwargs):
        checker.check(qualified, signatures, args, kwargs)
        if impl is None:
            raise NotImplementedError(f"the stand-in has no behaviour for {qualified}")
        return impl(self, *args, **kwargs)

    method.__name__ = qualified.rpartition(".")[2]
    return method


def _missing_property(qualified: str) -> property:
    def fail(self, *value):
        raise NotImplementedError(f"the stand-in has no behaviour for {qualified}")

    return property(fail, fail)


def _namespace(name: str, members: dict, impl: type, checker: CallChecker, version: str) -> dict:
    namespace = {"_fake_name": name, "_fake_version": version,
                 "_fake_members": {member: entry["kind"] for member, entry in members.items()}}
    for member, entry in members.items():
        found = None if impl is object else next(
            (klass.__dict__[member] for klass in impl.__mro__ if member in klass.__dict__), None)
        if entry["kind"] == "method":
            signatures = [parse_signature(text) for text in entry["sigs"]]
            namespace[member] = _method(f"{name}.{member}", signatures, found, checker)
        elif entry["kind"] == "property":
            is_property = isinstance(found, property)
            namespace[member] = found if is_property else _missing_property(f"{name}.{member}")
        elif entry["kind"] == "attr":
            namespace[member] = found if found is not None else f"<{name}.{member}>"
    return namespace


def _make_enum(name: str, member_names, log: AccessLog, version: str, extra: dict) -> type:
    members = {member: "attr" for member in member_names}
    members.update({"name": "property", "value": "property"}, **extra)
    enum = StrictMeta(name, (EnumBase,), {"_fake_name": name, "_fake_version": version,
                                          "_fake_members": members, "_fake_log": log})
    # Reverse alphabetical from a per-version offset: deliberately not TensorRT's integers.
    offset = VERSIONS.index(version) + 1 if version in VERSIONS else 1
    for value, member in enumerate(sorted(member_names, reverse=True), start=offset):
        type.__setattr__(enum, member, enum(member, value))
    return enum


def make_standin(version: str, impls: Mapping[str, type] | None = None,
                 functions: Mapping[str, Callable] | None = None,
                 shared: Mapping[str, object] | None = None) -> types.ModuleType:
    """A strict ``tensorrt`` module for ``version``; ``shared`` becomes private class state."""
    dump, impls, functions = load_dump(version), impls or {}, functions or {}
    log, classes = AccessLog(), {}
    checker = CallChecker(version, classes)
    for name, members in dump["classes"].items():
        if is_enum(members):
            attrs = [m for m, entry in members.items() if entry["kind"] == "attr"]
            extra = {m: entry["kind"] for m, entry in members.items()
                     if entry["kind"] != "attr" and m not in ("name", "value")}
            classes[name] = _make_enum(name, attrs, log, version, extra)
            for member in extra:
                type.__setattr__(classes[name], member, _namespace(
                    name, {member: members[member]}, impls.get(name, object), checker,
                    version)[member])
            continue
        impl = impls.get(name, object)
        namespace = _namespace(name, members, impl, checker, version)
        namespace.update({"_fake_log": log, **{f"_{k}": v for k, v in (shared or {}).items()}})
        bases = (StrictBase,) if impl is object else (StrictBase, impl)
        classes[name] = StrictMeta(name, bases, namespace)
    _add_severity(dump, classes, log, version)
    return _module(version, dump, classes, functions, log)


def _add_severity(dump: dict, classes: dict, log: AccessLog, version: str) -> None:
    """ILogger.Severity is a nested enum whose members are also ILogger attributes."""
    members = [m for m, entry in dump["classes"]["ILogger"].items() if entry["kind"] == "attr"]
    severity = _make_enum("ILogger.Severity", members, log, version, {})
    for logger_class in ("ILogger", "Logger"):
        type.__setattr__(classes[logger_class], "Severity", severity)
        for member in members:
            type.__setattr__(classes[logger_class], member, type.__getattribute__(severity, member))


def _module(version: str, dump: dict, classes: dict, functions: Mapping[str, Callable],
            log: AccessLog) -> types.ModuleType:
    module = StandinModule("tensorrt")
    public = set(classes) | set(dump["functions"]) | {"__version__"}
    object.__setattr__(module, "_fake_public", public)
    object.__setattr__(module, "_fake_log", log)
    object.__setattr__(module, "_fake_classes", classes)
    object.__setattr__(module, "__version__", version)
    object.__setattr__(module, "__spec__", importlib.machinery.ModuleSpec("tensorrt", None))
    for name, cls in classes.items():
        object.__setattr__(module, name, cls)
    for name in dump["functions"]:
        object.__setattr__(module, name, functions.get(name) or _missing_function(name))
    return module


def _missing_function(name: str) -> Callable:
    def missing(*args, **kwargs):
        raise NotImplementedError(f"the stand-in has no behaviour for tensorrt.{name}")

    return missing


class StandinModule(types.ModuleType):
    def __getattribute__(self, name):
        if name.startswith("_") and name != "__version__":
            return super().__getattribute__(name)
        if name not in super().__getattribute__("_fake_public"):
            version = super().__getattribute__("__version__")
            raise AttributeError(f"module 'tensorrt' {version} has no attribute {name!r}")
        super().__getattribute__("_fake_log").record(name)
        return super().__getattribute__(name)
