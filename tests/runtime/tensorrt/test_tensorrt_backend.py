"""Behaviour: the real TensorRT backend on the emulation, checked against ONNX Runtime.

The emulated engine runs the ONNX with ONNX Runtime on host memory standing in for device
memory, so buffer sizing, tier routing, address binding and copies must all be right for
the outputs to match the ONNX Runtime backend.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC
from fuse_trt.engine.errors import InferenceInputError
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend, OrtConfig
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.models import feed_for

SPECS = [FUSION_SPEC, IDENTITY_FUSION_SPEC]
MAX_ABS_DIFF = {}  # (spec, version, precision, tier) -> max abs difference vs ONNX Runtime


def tier_feeds(spec, tiers):
    """Per tier: min shape at batch 1, max shape at the max batch, one odd shape in between."""
    for tier in tiers:
        (min_h, min_w), (max_h, max_w) = tier.min_shape, tier.max_shape
        yield tier, feed_for(spec, 1, min_h, min_w, seed=1)
        yield tier, feed_for(spec, tier.max_batch, max_h, max_w, seed=2)
        yield tier, feed_for(spec, 2, min_h, max(min_w, max_w - tiers.stride), seed=3)


def compare_with_onnxruntime(spec, tiers, plan, precision, onnx_path):
    # one thread, as the emulated engine runs ONNX Runtime: a reduction split over another
    # number of threads sums in another order (the colour head's MatMuls over H x W differ in
    # the last bit between 1 and 2 threads), and the bytes in and out must be the same
    single_thread = OrtConfig(intra_op_threads=1)
    with OnnxRuntimeBackend(onnx_path, spec, tiers, config=single_thread) as reference, \
            TensorRTBackend(plan, spec, tiers, precision) as backend:
        worst = {}
        for tier, feed in tier_feeds(spec, tiers):
            typed = {name: array.astype(backend.spec.tensor(name).dtype)
                     for name, array in feed.items()}  # an FP16 plan takes FP16
            expected, actual = reference.infer(tier, feed), backend.infer(tier, typed)
            assert actual.keys() == expected.keys()
            for name in expected:
                assert actual[name].shape == expected[name].shape
                worst[tier.name] = max(worst.get(tier.name, 0.0),
                                       float(np.abs(actual[name] - expected[name]).max()))
    return worst


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_outputs_equal_onnxruntime_on_every_tier(emulated, tiers, tmp_path, spec):
    plan = build_plan(tmp_path, spec, tiers, "fp32")
    worst = compare_with_onnxruntime(spec, tiers, plan, "fp32", tmp_path / "model.onnx")
    MAX_ABS_DIFF.update({(spec.name, emulated.version, "fp32", t): d for t, d in worst.items()})
    print(f"{spec.name} TensorRT {emulated.version} fp32 max abs diff per tier: {worst}")
    assert max(worst.values()) == 0.0  # the same ONNX, the same bytes in and out


def test_fp16_plans_stay_close_to_fp32_onnxruntime(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, IDENTITY_FUSION_SPEC, tiers, "fp16", strongly_typed=True)
    worst = compare_with_onnxruntime(IDENTITY_FUSION_SPEC, tiers, plan, "fp16",
                                     tmp_path / "model.onnx")
    print(f"strongly typed fp16 (FP16 ONNX) max abs diff per tier: {worst}")
    assert 0.0 < max(worst.values()) < 2e-3


@pytest.mark.parametrize("bundle_name", ["tiny_bundle", "tiny_identity_bundle"])
def test_the_exported_fusion_unet_matches_onnxruntime(request, trt10, tmp_path, bundle_name):
    bundle = request.getfixturevalue(bundle_name)
    onnx_path = bundle.artifact_path("onnx", "fp32")
    plan = build_plan(tmp_path, bundle.spec, bundle.tiers, "fp32", onnx_path=onnx_path)
    worst = compare_with_onnxruntime(bundle.spec, bundle.tiers, plan, "fp32", onnx_path)
    print(f"{bundle_name} max abs diff per tier: {worst}")
    # ONNX Runtime's tier sessions fix the shapes and fold the decoder's sums into its convs,
    # which round apart from the stand-in's symbolic session by float32 ulps; a misplaced
    # buffer or a precision change shows as 1e-3 or more
    assert max(worst.values()) < 1e-6


def test_nothing_is_allocated_or_rebound_after_activate(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, IDENTITY_FUSION_SPEC, tiers)
    with TensorRTBackend(plan, IDENTITY_FUSION_SPEC, tiers, "fp32") as backend:
        allocations, bindings = dict(trt10.gpu.counts), trt10.emulation.calls["set_tensor_address"]
        for _ in range(2):
            for tier, feed in tier_feeds(IDENTITY_FUSION_SPEC, tiers):
                backend.infer(tier, feed)
        assert dict(trt10.gpu.counts) == allocations
        assert trt10.emulation.calls["set_tensor_address"] == bindings


def test_input_shapes_are_set_only_when_they_change(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, IDENTITY_FUSION_SPEC, tiers)
    inputs = len(IDENTITY_FUSION_SPEC.inputs)
    calls = trt10.emulation.calls
    with TensorRTBackend(plan, IDENTITY_FUSION_SPEC, tiers, "fp32") as backend:
        backend.infer("32", feed_for(IDENTITY_FUSION_SPEC, 1, 32, 32))
        before = calls["set_input_shape"]
        backend.infer("32", feed_for(IDENTITY_FUSION_SPEC, 1, 32, 32, seed=5))
        backend.infer("48", feed_for(IDENTITY_FUSION_SPEC, 1, 48, 48))  # another context
        backend.infer("32", feed_for(IDENTITY_FUSION_SPEC, 1, 32, 48))  # [1, 128] unchanged
    assert calls["set_input_shape"] - before == inputs + (inputs - 1)


def onnxruntime_outputs(onnx_path, spec, tiers, tier, feeds):
    """The ONNX Runtime backend's outputs: a second implementation to compare with."""
    with OnnxRuntimeBackend(onnx_path, spec, tiers) as reference:
        return [reference.infer(tier, feed)["fused"] for feed in feeds]


def test_results_are_copies_that_later_calls_do_not_overwrite(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    feeds = [feed_for(FUSION_SPEC, 1, 32, 32, seed=seed) for seed in (1, 2)]
    expected = onnxruntime_outputs(tmp_path / "model.onnx", FUSION_SPEC, tiers, "32", feeds)
    assert not np.allclose(expected[0], expected[1])
    with TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32") as backend:
        results = [backend.infer("32", feed)["fused"] for feed in feeds]
    for result, reference in zip(results, expected):
        np.testing.assert_array_equal(result, reference)


def test_a_shape_outside_the_tier_profile_raises(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    tier = tiers.by_name("32")
    too_big = feed_for(FUSION_SPEC, 1, tier.max_shape[0] + 16, 32)
    with TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32") as backend:
        with pytest.raises(InferenceInputError, match="tier 32 takes"):
            backend.infer(tier, too_big)
        # Past the protocol's own check, the engine's profile bounds still hold.
        with pytest.raises(InferenceInputError, match="'composite' shape .* outside optimization"):
            backend._infer_impl(tier, too_big)
        fine = feed_for(FUSION_SPEC, 1, 32, 32)
        assert backend.infer(tier, fine)["fused"].shape == (1, 3, 32, 32)


def test_teardown_releases_in_tensorrt_order(emulated, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    backend.infer("48", feed_for(FUSION_SPEC, 1, 48, 48))
    start = len(emulated.gpu.events)
    backend.close()
    events = emulated.gpu.events[start:]
    contexts = len(tiers)
    assert events[:contexts + 2] == ["context.destroy"] * contexts + ["engine.destroy",
                                                                      "runtime.destroy"]
    frees = events[contexts + 2:-2]
    assert frees and set(frees) == {"free host", "free device"}
    assert events[-2:] == ["pop", "detach"]
    assert emulated.gpu.allocations == {} and emulated.gpu.retained == 0
    assert emulated.gpu.stack() == []


def test_inference_runs_from_worker_threads(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    feed = feed_for(FUSION_SPEC, 2, 48, 64)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32")
    with ThreadPoolExecutor(1) as worker:
        worker.submit(backend.activate).result()
        expected = worker.submit(backend.infer, "48", feed).result()["fused"]
    on_main = backend.infer("48", feed)["fused"]
    other = threading.Thread(target=backend.close)
    other.start()
    other.join()
    [reference] = onnxruntime_outputs(tmp_path / "model.onnx", FUSION_SPEC, tiers, "48", [feed])
    np.testing.assert_array_equal(expected, reference)
    np.testing.assert_array_equal(on_main, reference)
    assert not backend.is_active and trt10.gpu.retained == 0


def test_memory_reports_weights_scratch_and_buffers(emulated, tiers, tmp_path):
    plan = build_plan(tmp_path, IDENTITY_FUSION_SPEC, tiers)
    with TensorRTBackend(plan, IDENTITY_FUSION_SPEC, tiers, "fp32") as backend:
        memory = backend.memory()
    assert memory.weights_bytes > 0
    assert memory.shared_scratch_bytes == max(memory.scratch_bytes_per_tier.values())
    assert set(memory.scratch_bytes_per_tier) == set(tiers.names())
    largest = {name: max(int(np.prod(IDENTITY_FUSION_SPEC.max_shapes(tier)[name])) for tier in tiers)
               for name in (*IDENTITY_FUSION_SPEC.input_names, *IDENTITY_FUSION_SPEC.output_names)}
    # pinned + device, one buffer per tensor shared by every tier
    assert memory.io_buffer_bytes == sum(2 * 4 * volume for volume in largest.values())
    per_profile = len(set(memory.scratch_bytes_per_tier.values())) > 1
    assert per_profile == (not emulated.version.startswith("8."))  # 8.6 reports one size


def test_a_failed_execution_is_a_typed_one_line_error(trt10, tiers, tmp_path, monkeypatch):
    from fuse_trt.engine.errors import FuseTrtError, InferenceError

    plan = build_plan(tmp_path, FUSION_SPEC, tiers, "fp32")
    with TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32") as backend:
        tier, feed = next(tier_feeds(FUSION_SPEC, tiers))
        context = backend._loaded.slots[tier.name].context
        monkeypatch.setattr(type(context), "execute_async_v3", lambda self, stream: False)
        with pytest.raises(InferenceError, match="execute_async_v3 failed for tier 32") as error:
            backend.infer(tier, feed)
    assert isinstance(error.value, FuseTrtError) and "\n" not in str(error.value)
@pytest.mark.parametrize("integrated", [False, True], ids=["discrete", "jetson"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_the_backend_allocates_exactly_the_memory_plan(integrated, spec, tiers, tmp_path,
                                                       monkeypatch):
    """Emulated allocations summed: weights + shared scratch + the plan's shared FP16 I/O on
    the device and as much pinned; on an integrated GPU the I/O is mapped host memory only."""
    from fuse_trt.engine.activations import ActivationEstimator
    from fuse_trt.engine.memory_plan import memory_plan
    from tests.support.tensorrt import FakeGpu, emulate

    gpu = FakeGpu(integrated=integrated)
    emulate("10.16.1.11", gpu).install(monkeypatch)
    plan = build_plan(tmp_path, spec, tiers, "fp16")
    predicted = memory_plan(ActivationEstimator.from_path(tmp_path / "model.onnx", spec),
                            tiers, "fp16")
    device_before, pinned_before = gpu.device_bytes(), gpu.pinned_bytes
    with TensorRTBackend(plan, spec, tiers, "fp16") as backend:
        device, pinned = gpu.device_bytes() - device_before, gpu.pinned_bytes - pinned_before
        held = backend.memory()
        worst = compare_with_onnxruntime_on(backend, spec, tiers, tmp_path / "model.onnx")
    io_on_device = 0 if integrated else predicted.shared_io_bytes
    assert device == held.weights_bytes + held.shared_scratch_bytes + io_on_device
    assert pinned == predicted.shared_io_bytes  # host staging, or the one mapped copy
    # all DRAM/VRAM held: the plan's device total plus its extra pinned (none on a Jetson)
    assert device + pinned == (held.weights_bytes + held.shared_scratch_bytes
                               + predicted.shared_io_bytes
                               + predicted.pinned_host_bytes(integrated))
    assert gpu.counts["mapped_on_discrete"] == 0
    assert max(worst.values()) < 2e-2  # FP16 I/O: outputs still match ONNX Runtime FP32


def compare_with_onnxruntime_on(backend, spec, tiers, onnx_path):
    worst = {}
    with OnnxRuntimeBackend(onnx_path, spec, tiers) as reference:
        for tier, feed in tier_feeds(spec, tiers):
            typed = {name: array.astype(np.float16) for name, array in feed.items()}
            actual, expected = backend.infer(tier, typed), reference.infer(tier, feed)
            assert actual["fused"].dtype == np.float16
            worst[tier.name] = max(worst.get(tier.name, 0.0),
                                   float(np.abs(actual["fused"] - expected["fused"]).max()))
    return worst
