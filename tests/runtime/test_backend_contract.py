"""One contract, checked over every backend available on this machine."""
import numpy as np
import pytest

from fuse_trt.engine.errors import ConfigError, InferenceInputError
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.runtime.select import available_backends, open_backend

CPU_BACKENDS = [name for name in available_backends() if name in ("onnxruntime", "torch")]


def tier_feeds(bundle, batch=1):
    """One feed per tier: the profile's min shape, opt shape and max shape."""
    for tier in bundle.tiers:
        for shape in (tier.min_shape, tier.max_shape):
            yield tier, bundle.spec.example_feed(batch, *shape, seed=sum(shape))


@pytest.mark.parametrize("bundle_name", ["tiny_bundle", "tiny_identity_bundle"])
def test_every_backend_agrees_on_every_tier(request, bundle_name):
    bundle = request.getfixturevalue(bundle_name)
    assert {"onnxruntime", "torch"} <= set(CPU_BACKENDS)
    results = {}
    for name in CPU_BACKENDS:
        with open_backend(bundle, name) as backend:
            results[name] = [backend.infer(tier, feed)["fused"]
                             for tier, feed in tier_feeds(bundle, batch=2)]
    reference = results["torch"]
    for name, outputs in results.items():
        for expected, actual in zip(reference, outputs):
            assert actual.shape == expected.shape
            np.testing.assert_allclose(actual, expected, atol=1e-4, err_msg=name)
    composite = next(tier_feeds(bundle, 2))[1]["composite"]
    assert np.abs(reference[0] - composite).max() > 1e-2  # the model really changes its input


@pytest.mark.parametrize("backend_name", CPU_BACKENDS)
def test_feed_checks_name_tensor_and_expectation(tiny_bundle, backend_name):
    tier = tiny_bundle.tiers.tiers[0]
    good = tiny_bundle.spec.example_feed(1, *tier.min_shape)
    with open_backend(tiny_bundle, backend_name) as backend:
        with pytest.raises(InferenceInputError, match="model expects"):
            backend.infer(tier, {k: v for k, v in good.items() if k != "mask"})
        with pytest.raises(InferenceInputError, match="'mask' has dtype float64"):
            backend.infer(tier, {**good, "mask": good["mask"].astype(np.float64)})
        with pytest.raises(InferenceInputError, match=r"'context' has shape .* expected \[N, 3, H, W\]"):
            backend.infer(tier, {**good, "context": good["context"][:, :1]})
        too_big = tiny_bundle.spec.example_feed(1, tier.max_shape[0] + 16, tier.min_shape[1])
        with pytest.raises(InferenceInputError, match=f"tier {tier.name} takes"):
            backend.infer(tier, too_big)
        too_many = tiny_bundle.spec.example_feed(tier.max_batch + 1, *tier.min_shape)
        with pytest.raises(InferenceInputError, match="batch"):
            backend.infer(tier, too_many)


def test_non_contiguous_inputs_are_accepted(tiny_bundle):
    tier = tiny_bundle.tiers.tiers[0]
    feed = tiny_bundle.spec.example_feed(1, *tier.min_shape)
    strided = {name: np.flip(array, axis=-1) for name, array in feed.items()}
    with open_backend(tiny_bundle, "onnxruntime") as backend:
        flipped = backend.infer(tier, strided)["fused"]
        plain = backend.infer(tier, {k: np.ascontiguousarray(v) for k, v in strided.items()})["fused"]
    np.testing.assert_array_equal(flipped, plain)


def test_onnxruntime_allocates_its_buffers_once(tiny_bundle):
    backend = OnnxRuntimeBackend(tiny_bundle.artifact_path("onnx", "fp32"), tiny_bundle.spec,
                                 tiny_bundle.tiers)
    with backend:
        before = {tier.name: backend.output_buffer_addresses(tier) for tier in tiny_bundle.tiers}
        outputs = []
        for _ in range(3):
            for tier, feed in tier_feeds(tiny_bundle):
                outputs.append(backend.infer(tier, feed)["fused"])
        after = {tier.name: backend.output_buffer_addresses(tier) for tier in tiny_bundle.tiers}
        assert before == after
        # Results are copies: a later call with another feed does not overwrite an earlier
        # result, which still equals torch's output for its own feed.
        tier, feed = next(tier_feeds(tiny_bundle))
        backend.infer(tier, tiny_bundle.spec.example_feed(1, *tier.min_shape, seed=99))
        assert backend.memory().io_buffer_bytes > 0
    with open_backend(tiny_bundle, "torch") as torch_backend:
        expected = torch_backend.infer(tier, feed)["fused"]
    np.testing.assert_allclose(outputs[0], expected, atol=1e-4)


def test_infer_before_activate_is_a_bug_not_a_user_error(tiny_bundle):
    backend = open_backend(tiny_bundle, "onnxruntime")
    with pytest.raises(RuntimeError, match="before activate"):
        backend.infer("32", tiny_bundle.spec.example_feed(1, 32, 32))


def test_unknown_backend_and_precision_are_user_errors(tiny_bundle):
    with pytest.raises(ConfigError, match="unknown backend 'tpu'"):
        open_backend(tiny_bundle, "tpu")
    with pytest.raises(ConfigError, match="unknown precision"):
        open_backend(tiny_bundle, "onnxruntime", "int4")
