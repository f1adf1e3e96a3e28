"""The Triton backend: the same protocol as the local engines, served by a Triton server.

Each tier goes to its own model of a repository from `fuse-trt export-triton`. At
``activate()`` the backend picks the first model family whose tier models are all ready,
TensorRT before ONNX for the requested precision, and checks their tensors against the spec.
"""
from __future__ import annotations

import logging

import numpy as np

from fuse_trt.engine.errors import BackendUnavailableError
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.runtime.protocol import Backend, BackendMemory
from fuse_trt.runtime.triton_client import TritonFusionClient, family_name, tier_model

log = logging.getLogger("fuse_trt")


class TritonBackend(Backend):
    name = "triton"

    def __init__(self, url: str, spec: ModelSpec, tiers: TierTable, precision: str = "fp32",
                 family: str | None = None, timeout_s: float = 60.0):
        super().__init__(spec, tiers, precision)
        self.url = url
        self.family = family
        self.timeout_s = timeout_s
        self._client: TritonFusionClient | None = None

    def candidate_families(self) -> list[str]:
        if self.family is not None:
            return [self.family]
        return [family_name(engine, self.precision) for engine in ("trt", "onnx")]

    def _activate_impl(self) -> None:
        client = TritonFusionClient(self.url, self.timeout_s)
        client.wait_until_ready(min(self.timeout_s, 10.0))
        for family in self.candidate_families():
            models = [tier_model(family, tier.name) for tier in self.tiers]
            if all(client.is_model_ready(model) for model in models):
                for model in models:
                    client.check_model(model, self.spec)
                self.family, self._client = family, client
                log.info("triton: serving tiers %s with %s_*", self.tiers.names(), family)
                return
        client.close()
        raise BackendUnavailableError(
            f"Triton at {self.url} has no ready models {' or '.join(self.candidate_families())}"
            f"_<tier> for tiers {', '.join(self.tiers.names())}; export them with "
            "`fuse-trt export-triton BUNDLE -o REPO` and load REPO in the server")

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._client.infer(tier_model(self.family, tier.name), feed, self.spec.output_names)

    def _memory_impl(self) -> BackendMemory:
        return BackendMemory()  # everything lives in the server

    def _close_impl(self) -> None:
        self._client.close()
        self._client = None
