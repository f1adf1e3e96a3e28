"""The version branches of trt_compat, each checked on the stand-in of its version."""
import sys
import types

import pytest

from fuse_trt.engine.errors import BackendUnavailableError, EngineBuildError
from fuse_trt.runtime.trt_compat import (PrecisionRecipe, TensorRTCompat, load_tensorrt,
                                         parse_tensorrt_version)
from tests.support.tensorrt import emulate

# (version, precision, strongly typed asked) -> recipe, from DESIGN.md "TensorRT versions".
RECIPES = [
    ("8.6.1", "fp16", False, PrecisionRecipe("fp32", ("FP16",), False, None)),
    ("8.6.1", "int8", False, PrecisionRecipe("fp32", ("INT8", "FP16"), False, "implicit")),
    ("10.3.0", "fp16", False, PrecisionRecipe("fp32", ("FP16",), False, None)),
    ("10.16.1.11", "fp16", True, PrecisionRecipe("fp16", (), True, None)),
    ("10.16.1.11", "int8", True, PrecisionRecipe("qdq", (), True, "explicit")),
    ("10.16.1.11", "int8", False, PrecisionRecipe("fp32", ("INT8", "FP16"), False, "implicit")),
    ("11.4.0.106", "fp16", False, PrecisionRecipe("fp16", (), True, None)),
    ("11.4.0.106", "int8", False, PrecisionRecipe("qdq", (), True, "explicit")),
    ("11.4.0.106", "fp32", False, PrecisionRecipe("fp32", (), True, None)),
]


def compat_for(version: str) -> TensorRTCompat:
    return TensorRTCompat.from_module(emulate(version).trt)


@pytest.mark.parametrize("text, expected", [("10.16.1.11", (10, 16, 1, 11)),
                                            ("8.6.1.post1", (8, 6, 1)), ("11.4", (11, 4))])
def test_version_is_parsed_from_its_leading_numbers(text, expected):
    assert parse_tensorrt_version(text) == expected


@pytest.mark.parametrize("version", ["7.2.3", "8.5.3", "9.2.0", "10.2.0", "12.0.0"])
def test_unsupported_versions_are_refused_with_the_supported_list(version):
    with pytest.raises(BackendUnavailableError, match="runs TensorRT 8.6, 10.3"):
        TensorRTCompat.from_module(types.SimpleNamespace(__version__=version))


@pytest.mark.parametrize("version, precision, typed, recipe", RECIPES)
def test_precision_recipe_per_version(version, precision, typed, recipe):
    assert compat_for(version).precision_recipe(precision, typed) == recipe


def test_strong_typing_does_not_exist_in_8_6():
    with pytest.raises(EngineBuildError, match="strong typing needs TensorRT 10"):
        compat_for("8.6.1").precision_recipe("fp16", strongly_typed=True)


def test_int8_mode_per_version():
    assert [compat_for(v).int8_mode() for v in ("8.6.1", "10.3.0", "11.4.0.106")] == \
        ["implicit", "implicit", "explicit"]
    assert compat_for("10.16.1.11").int8_mode(strongly_typed=True) == "explicit"


@pytest.mark.parametrize("version, typed, expected", [
    ("8.6.1", False, {"EXPLICIT_BATCH"}),
    ("10.3.0", True, {"EXPLICIT_BATCH", "STRONGLY_TYPED"}),
    ("10.16.1.11", False, {"EXPLICIT_BATCH"}),
    ("11.4.0.106", True, {"STRONGLY_TYPED"}),
])
def test_network_flags_come_from_the_enum_by_name(version, typed, expected):
    trt = emulate(version).trt
    flags = compat_for(version).network_flags(typed)
    members = trt.NetworkDefinitionCreationFlag
    decoded = {name for name in ("EXPLICIT_BATCH", "STRONGLY_TYPED")
               if hasattr(members, name) and flags & (1 << int(getattr(members, name)))}
    assert decoded == expected


def test_the_stand_in_flag_integers_differ_between_10_16_and_11():
    """So a hard-coded STRONGLY_TYPED integer would build the wrong network somewhere."""
    typed = [int(emulate(v).trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
             for v in ("10.16.1.11", "11.4.0.106")]
    assert typed[0] != typed[1]
    assert int(emulate("8.6.1").trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) != 0


def test_onnx_opset_limit_is_known_for_8_6_only():
    assert compat_for("8.6.1").max_onnx_opset() == 17
    assert compat_for("10.3.0").max_onnx_opset() is None


def test_implicit_calibration_is_refused_on_11():
    with pytest.raises(EngineBuildError, match="Q/DQ ONNX"):
        compat_for("11.4.0.106").attach_calibrator(object(), object(), object())


def test_parser_errors_name_the_node_where_the_version_can():
    error = types.SimpleNamespace(node=lambda: 3, node_name=lambda: "conv_7",
                                  node_operator=lambda: "Conv", desc=lambda: "bad weights")
    assert compat_for("8.6.1").describe_parser_error(error) == "node 3: bad weights"
    assert compat_for("10.3.0").describe_parser_error(error) == \
        "node 3 'conv_7' (Conv): bad weights"


def test_load_tensorrt_without_tensorrt_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'fuse-trt\[gpu\]'"):
        load_tensorrt()
