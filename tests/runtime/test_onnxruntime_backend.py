"""The ONNX Runtime backend: binding only when the shape changes, results checked against torch."""
import numpy as np
import onnxruntime
import pytest

from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.runtime.select import open_backend


@pytest.fixture
def bind_calls(monkeypatch):
    """Every IOBinding.bind_input / bind_output call, as (kind, tensor name, shape)."""
    calls = []
    for kind in ("bind_input", "bind_output"):
        original = getattr(onnxruntime.IOBinding, kind)

        def recording(self, name, *args, _original=original, _kind=kind, **kwargs):
            shape = args[3] if len(args) > 3 else kwargs.get("shape")
            calls.append((_kind, name, tuple(shape)))
            return _original(self, name, *args, **kwargs)

        monkeypatch.setattr(onnxruntime.IOBinding, kind, recording)
    return calls


def torch_reference(bundle, tier, feeds):
    with open_backend(bundle, "torch") as backend:
        return [backend.infer(tier, feed)["fused"] for feed in feeds]


def test_binding_is_redone_only_when_the_shape_changes(tiny_bundle, bind_calls):
    spec = tiny_bundle.spec
    first, second = tiny_bundle.tiers.tiers[:2]  # profiles may be one shape: use two tiers
    small, large = first.min_shape, second.max_shape
    calls = [(first, small)] * 3 + [(second, large)] * 2 + [(first, small)]
    feeds = [spec.example_feed(1, *shape, seed=seed) for seed, (_, shape) in enumerate(calls)]
    backend = OnnxRuntimeBackend(tiny_bundle.artifact_path("onnx", "fp32"), spec, tiny_bundle.tiers)
    per_binding = len(spec.inputs) + len(spec.outputs)
    counts = []
    with backend:
        for (tier, _), feed in zip(calls, feeds):
            backend.infer(tier, feed)
            counts.append(len(bind_calls))
    # one binding for the first small call, one at the switch to large, one back to small
    assert counts == [per_binding] * 3 + [2 * per_binding] * 2 + [3 * per_binding]
    assert {shape[2:] for kind, name, shape in bind_calls if name == "fused"} == {small, large}


def test_results_are_copies_equal_to_torch(tiny_bundle):
    """Each call gets a different feed; every kept result must still be its own feed's torch
    output after later calls reused the same buffers."""
    spec = tiny_bundle.spec
    tier = tiny_bundle.tiers.tiers[0]
    feeds = [spec.example_feed(2, *tier.min_shape, seed=seed) for seed in range(3)]
    expected = torch_reference(tiny_bundle, tier, feeds)
    backend = OnnxRuntimeBackend(tiny_bundle.artifact_path("onnx", "fp32"), spec, tiny_bundle.tiers)
    with backend:
        before = backend.output_buffer_addresses(tier)
        assert len(set(before.values())) == len(before) and all(before.values())
        kept = [backend.infer(tier, feed)["fused"] for feed in feeds]
        assert backend.output_buffer_addresses(tier) == before
    assert not np.allclose(expected[0], expected[1], atol=1e-3)  # the feeds really differ
    for result, reference in zip(kept, expected):
        np.testing.assert_allclose(result, reference, atol=1e-4)


def test_session_options_come_from_the_config(tiny_bundle):
    from fuse_trt.runtime.onnxruntime_backend import OrtConfig

    onnx_path = tiny_bundle.artifact_path("onnx", "fp32")
    for config in (OrtConfig(), OrtConfig(intra_op_threads=1, enable_cpu_mem_arena=False,
                                          enable_mem_pattern=True, allow_spinning=False,
                                          graph_optimization="ORT_DISABLE_ALL")):
        with OnnxRuntimeBackend(onnx_path, tiny_bundle.spec, tiny_bundle.tiers,
                                config=config) as backend:
            options = backend._session.get_session_options()
            assert options.enable_cpu_mem_arena is config.enable_cpu_mem_arena
            assert options.enable_mem_pattern is config.enable_mem_pattern
            assert options.intra_op_num_threads == config.intra_op_threads
            assert options.graph_optimization_level == getattr(
                onnxruntime.GraphOptimizationLevel, config.graph_optimization)
            assert options.get_session_config_entry("session.intra_op.allow_spinning") == \
                ("1" if config.allow_spinning else "0")
    # the measured winner (benchmarks/cpu/ort_session_settings.md): arena, no memory
    # pattern, spinning, one thread per core
    default = OrtConfig()
    assert (default.enable_cpu_mem_arena, default.enable_mem_pattern, default.allow_spinning,
            default.intra_op_threads) == (True, False, True, 0)


def test_requested_providers_must_be_installed():
    import dataclasses

    from fuse_trt.engine.errors import BackendUnavailableError
    from fuse_trt.runtime.onnxruntime_backend import OrtConfig, available_providers

    assert available_providers(("CPUExecutionProvider",)) == ["CPUExecutionProvider"]
    assert available_providers(None)[-1] == "CPUExecutionProvider"
    with pytest.raises(BackendUnavailableError, match=r"\['FooExecutionProvider'\] are not"):
        available_providers(("CPUExecutionProvider", "FooExecutionProvider"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        OrtConfig().intra_op_threads = 3
