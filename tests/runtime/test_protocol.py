"""BackendMemory: what a backend reports holding, and its total, by hand."""
import dataclasses

import pytest

from fuse_trt.runtime.protocol import BackendMemory


def test_memory_totals_by_hand():
    assert BackendMemory(weights_bytes=7).total_bytes == 7  # every other figure defaults to 0
    assert BackendMemory(weights_bytes=7).io_buffer_bytes == 0
    per_tier = BackendMemory(10, 5, {"512": 3, "768": 4})
    assert per_tier.total_bytes == 10 + 5 + 3 + 4
    shared = BackendMemory(10, 5, {"512": 3, "768": 4}, shared_scratch_bytes=6)
    assert shared.total_bytes == 10 + 5 + 6  # one scratch shared by the tiers, not their sum
    with pytest.raises(dataclasses.FrozenInstanceError):
        shared.weights_bytes = 0
