"""The real tritonserver of the nvidia-pytriton wheel serving an exported CPU repository on
127.0.0.1: concurrent requests for every tier through the Triton backend agree with the
local ONNX Runtime backend, and FaceFusion fuses through it. Bounded in time; stopped."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fuse_trt.api import FaceFusion, FusionConfig
from fuse_trt.engine.errors import BackendUnavailableError
from fuse_trt.runtime.select import open_backend
from fuse_trt.runtime.triton_client import TritonFusionClient
from fuse_trt.triton import export_triton
from tests.conftest import make_tiny_bundle
from tests.support.tritonserver import READY_TIMEOUT_S, start_tritonserver


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle"))[0]


@pytest.fixture(scope="module")
def server(bundle, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("triton")
    export_triton(bundle, workdir / "repo")
    running = start_tritonserver(workdir / "repo", workdir)
    try:
        try:
            TritonFusionClient(running.http_url).wait_until_ready(READY_TIMEOUT_S)
        except BackendUnavailableError:
            pytest.fail(f"tritonserver did not become ready:\n{running.log_tail()}")
        yield running
    finally:
        assert running.stop() is not None


def requests_for(bundle) -> list[tuple[str, dict]]:
    """Two feeds per tier: batch 1 at the profile's min shape and a full batch at its max
    (face tiers are square and static in H, W since the memory plan; batch still varies)."""
    cases = []
    for index, tier in enumerate(bundle.tiers):
        cases.append((tier.name, bundle.spec.example_feed(1, *tier.min_shape, seed=index)))
        cases.append((tier.name, bundle.spec.example_feed(
            tier.max_batch, *tier.max_shape, seed=10 + index)))
    return cases


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_concurrent_requests_for_every_tier_match_onnxruntime(bundle, server, protocol):
    url = server.http_url if protocol == "http" else server.grpc_url
    cases = requests_for(bundle) * 2
    with open_backend(bundle, "onnxruntime") as local:
        expected = [local.infer(tier, feed)["fused"] for tier, feed in cases]
    with open_backend(bundle, "triton", url=url) as remote:
        assert remote.family == "fusion_onnx_fp32"
        with ThreadPoolExecutor(max_workers=6) as pool:
            served = list(pool.map(lambda case: remote.infer(*case)["fused"], cases))
    for (tier, feed), got, want in zip(cases, served, expected):
        assert got.shape == want.shape == feed["composite"].shape
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"tier {tier}")
    assert len({tier for tier, _ in cases}) == len(bundle.tiers)


def test_face_fusion_runs_through_triton(bundle, server, grace, astronaut):
    outputs = {}
    for backend in ("onnxruntime", "triton"):
        config = FusionConfig(bundle=bundle.directory, backend=backend, url=server.http_url,
                              blend="unet")
        with FaceFusion(config) as fusion:
            fusion.set_source(grace)
            outputs[backend] = fusion.fuse(astronaut)
            assert fusion.backend.name == backend
    difference = np.abs(outputs["triton"].astype(int) - outputs["onnxruntime"].astype(int))
    assert difference.max() <= 1
    assert np.abs(outputs["triton"].astype(int) - astronaut.astype(int)).max() > 30


def test_a_missing_model_family_is_a_one_line_error(bundle, server):
    backend = open_backend(bundle, "triton", precision="int8", url=server.http_url)
    with pytest.raises(BackendUnavailableError, match="fusion_trt_int8 or fusion_onnx_int8"):
        backend.activate()
