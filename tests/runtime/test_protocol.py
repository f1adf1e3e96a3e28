"""The backend protocol on a backend written for the test: lifecycle, feed checks, memory."""
import dataclasses

import numpy as np
import pytest

from fuse_trt.engine.errors import BackendClosedError, InferenceInputError
from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.runtime.protocol import Backend, BackendMemory
from tests.conftest import tiny_tiers


def test_memory_totals_by_hand():
    assert BackendMemory(weights_bytes=7).total_bytes == 7  # every other figure defaults to 0
    assert BackendMemory().weights_bytes == BackendMemory().total_bytes == 0
    assert BackendMemory(weights_bytes=7).io_buffer_bytes == 0
    per_tier = BackendMemory(10, 5, {"512": 3, "768": 4})
    assert per_tier.total_bytes == 10 + 5 + 3 + 4
    shared = BackendMemory(10, 5, {"512": 3, "768": 4}, shared_scratch_bytes=6)
    assert shared.total_bytes == 10 + 5 + 6  # one scratch shared by the tiers, not their sum
    with pytest.raises(dataclasses.FrozenInstanceError):
        shared.weights_bytes = 0


class Doubling(Backend):
    """A backend written for the test: its output is its composite input times two."""

    name = "doubling"

    def __init__(self, *args):
        super().__init__(*args)
        self.events = []

    def _activate_impl(self):
        self.events.append("activate")

    def _infer_impl(self, tier, feed):
        return {"fused": feed["composite"] * 2}

    def _memory_impl(self):
        return BackendMemory(weights_bytes=1)

    def _close_impl(self):
        self.events.append("close")


def test_the_lifecycle_activates_once_and_reopens_after_close():
    backend = Doubling(FUSION_SPEC, tiny_tiers())
    feed = FUSION_SPEC.example_feed(1, 32, 32)
    assert backend.memory() == BackendMemory()  # nothing held before activate
    with pytest.raises(RuntimeError, match="used before activate"):
        backend.infer("32", feed)
    assert backend.activate() is backend and backend.activate() is backend
    assert (backend.is_active, backend.is_closed, backend.events) == (True, False, ["activate"])
    assert backend.memory().weights_bytes == 1
    np.testing.assert_array_equal(backend.infer("32", feed)["fused"], feed["composite"] * 2)
    backend.close()
    backend.close()
    assert (backend.is_active, backend.is_closed) == (False, True)
    with pytest.raises(BackendClosedError, match="doubling backend closed"):
        backend.infer("32", feed)
    with backend:  # reopened
        assert (backend.is_active, backend.is_closed) == (True, False)
    assert backend.events == ["activate", "close", "activate", "close"]


def test_feeds_are_checked_against_the_tier_by_hand():
    backend = Doubling(FUSION_SPEC, tiny_tiers(max_batch=2, region="frame")).activate()
    tier = backend.tiers.by_name("48")  # takes 48x48 to 48x96 (HxW), batch 1..2
    for batch, height, width in ((1, 48, 48), (2, 48, 96)):
        feed = FUSION_SPEC.example_feed(batch, height, width)
        assert backend.infer(tier, feed)["fused"].shape == (batch, 3, height, width)
    for batch, height, width in ((3, 48, 48), (1, 47, 48), (1, 64, 48), (1, 48, 112)):
        with pytest.raises(InferenceInputError):
            backend.infer(tier, FUSION_SPEC.example_feed(batch, height, width))
    feed = FUSION_SPEC.example_feed(2, 48, 48)
    with pytest.raises(InferenceInputError, match="'mask' batch 1 must match"):
        backend.infer(tier, {**feed, "mask": feed["mask"][:1]})
    with pytest.raises(InferenceInputError, match="'mask' is 48x64 .* equal across inputs"):
        backend.infer(tier, {**feed, "mask": np.zeros((2, 1, 48, 64), np.float32)})
    strided = {name: np.asfortranarray(array) for name, array in feed.items()}
    checked = backend._check_feed(tier, strided)
    assert all(array.flags.c_contiguous for array in checked.values())
