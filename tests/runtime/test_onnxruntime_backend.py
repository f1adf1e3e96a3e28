"""The ONNX Runtime backend: a session per tier, binding only when the shape changes, results
checked against torch."""
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
    """Each tier's session has one binding per batch item, bound again only when that tier's
    (H, W) changes; frame tiers take several widths, so their bindings do move."""
    from tests.conftest import tiny_tiers

    spec = tiny_bundle.spec
    tiers = tiny_tiers(spec.stride, region="frame")
    first, second = tiers.tiers[:2]
    square, wide = first.min_shape, first.max_shape
    assert square != wide
    calls = [(first, 1, square)] * 3 + [(second, 1, second.min_shape)] * 2 + [
        (first, 1, square), (first, 1, wide), (first, 2, wide), (first, 2, wide)]
    feeds = [spec.example_feed(batch, *shape, seed=seed)
             for seed, (_, batch, shape) in enumerate(calls)]
    backend = OnnxRuntimeBackend(tiny_bundle.artifact_path("onnx", "fp32"), spec, tiers)
    per_binding = len(spec.inputs) + len(spec.outputs)
    counts = []
    with backend:
        for (tier, _, _), feed in zip(calls, feeds):
            backend.infer(tier, feed)
            counts.append(len(bind_calls) // per_binding)
    # first tier, second tier, back to the first (still bound), the first at a new width,
    # then a second batch item bound once
    assert counts == [1, 1, 1, 2, 2, 2, 3, 4, 4]
    assert {shape for kind, name, shape in bind_calls if name == "fused"} == {
        (1, 3, *square), (1, 3, *second.min_shape), (1, 3, *wide)}


def test_tier_sessions_fix_the_batch_and_the_sides_their_profile_fixes(tiny_bundle):
    from tests.conftest import tiny_tiers

    onnx_path = tiny_bundle.artifact_path("onnx", "fp32")
    for region, fixed_width in (("face", True), ("frame", False)):
        tiers = tiny_tiers(tiny_bundle.spec.stride, region=region)
        with OnnxRuntimeBackend(onnx_path, tiny_bundle.spec, tiers) as backend:
            assert backend.memory().weights_bytes == 0  # sessions come at a tier's first call
            for made, tier in enumerate(tiers, start=1):
                session = backend.tier_session(tier)
                assert backend.memory().weights_bytes == made * onnx_path.stat().st_size
                assert backend.tier_session(tier) is session
                height = tier.max_shape[0]
                width = tier.max_shape[1] if fixed_width else "width"
                assert {i.name: i.shape for i in session.get_inputs()} == {
                    "composite": [1, 3, height, width], "mask": [1, 1, height, width],
                    "context": [1, 3, height, width]}


def test_tier_sessions_share_one_arena_registered_once(tiny_bundle, monkeypatch):
    from fuse_trt.runtime import onnxruntime_backend
    from fuse_trt.runtime.onnxruntime_backend import OrtConfig

    registered = []
    real_register = onnxruntime.create_and_register_allocator
    onnxruntime_backend.register_shared_cpu_arena.cache_clear()
    monkeypatch.setattr(onnxruntime, "create_and_register_allocator",
                        lambda info, config: registered.append(info) or real_register(info, config))
    onnx_path = tiny_bundle.artifact_path("onnx", "fp32")
    tier = tiny_bundle.tiers.tiers[0]
    for config in (OrtConfig(), OrtConfig(), OrtConfig(enable_cpu_mem_arena=False),
                   OrtConfig(shared_arena=False)):
        with OnnxRuntimeBackend(onnx_path, tiny_bundle.spec, tiny_bundle.tiers,
                                config=config) as backend:
            options = backend.tier_session(tier).get_session_options()
            if config.enable_cpu_mem_arena and config.shared_arena:
                assert options.get_session_config_entry("session.use_env_allocators") == "1"
            else:
                with pytest.raises(RuntimeError, match="does not have configuration"):
                    options.get_session_config_entry("session.use_env_allocators")
    assert len(registered) == 1


def test_a_tier_switch_draws_on_the_shared_arena(tiny_bundle):
    """After the larger tier ran, a slightly smaller tier's first calls fit in the shared
    arena's freed memory; with an arena per session they grow the process by their own."""
    from fuse_trt.bench.memory import rss_bytes
    from fuse_trt.engine.tiers import TierTable
    from fuse_trt.runtime.onnxruntime_backend import OrtConfig

    spec = tiny_bundle.spec
    tiers = TierTable.from_short_edges((480, 512), stride=spec.stride)
    smaller, larger = tiers.tiers
    feeds = {tier.name: spec.example_feed(1, *tier.max_shape) for tier in tiers}
    growth = {}
    for config in (OrtConfig(), OrtConfig(shared_arena=False)):
        with OnnxRuntimeBackend(tiny_bundle.artifact_path("onnx", "fp32"), spec, tiers,
                                config=config) as backend:
            for _ in range(2):
                backend.infer(larger, feeds[larger.name])
            before = rss_bytes()
            for _ in range(2):
                backend.infer(smaller, feeds[smaller.name])
            growth[config.shared_arena] = (rss_bytes() - before) / 2**20
    assert growth[False] > 20 and growth[True] < growth[False] / 3, growth


def test_a_missing_model_fails_at_activate(tiny_bundle, tmp_path):
    from fuse_trt.engine.errors import BackendUnavailableError

    backend = OnnxRuntimeBackend(tmp_path / "gone.onnx", tiny_bundle.spec, tiny_bundle.tiers)
    with pytest.raises(BackendUnavailableError, match="gone.onnx does not exist"):
        backend.activate()


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
                                          graph_optimization="ORT_DISABLE_ALL",
                                          fixed_tier_shapes=False, enable_mem_reuse=True)):
        with OnnxRuntimeBackend(onnx_path, tiny_bundle.spec, tiny_bundle.tiers,
                                config=config) as backend:
            options = backend.tier_session(tiny_bundle.tiers.tiers[0]).get_session_options()
            assert options.enable_cpu_mem_arena is config.enable_cpu_mem_arena
            assert options.enable_mem_pattern is config.enable_mem_pattern
            assert options.enable_mem_reuse is config.enable_mem_reuse
            assert options.intra_op_num_threads == config.intra_op_threads
            assert options.graph_optimization_level == getattr(
                onnxruntime.GraphOptimizationLevel, config.graph_optimization)
            assert options.get_session_config_entry("session.intra_op.allow_spinning") == \
                ("1" if config.allow_spinning else "0")
            batch = backend.tier_session(tiny_bundle.tiers.tiers[0]).get_inputs()[0].shape[0]
            assert batch == (1 if config.fixed_tier_shapes else "batch")
    # the measured winner (benchmarks/cpu/ort_session_settings*.md): arena, no memory
    # pattern, spinning, one thread per core, fixed tier shapes, one shared arena, no
    # plan-time memory reuse
    default = OrtConfig()
    assert (default.enable_cpu_mem_arena, default.enable_mem_pattern, default.allow_spinning,
            default.intra_op_threads, default.fixed_tier_shapes, default.shared_arena,
            default.enable_mem_reuse) == (True, False, True, 0, True, True, False)


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
