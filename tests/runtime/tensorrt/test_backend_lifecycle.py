"""The TensorRT backend's lifecycle on the emulation: finalizer, failures with GPU work in
flight, profile refusals, a call racing close, threads."""
import gc
import json
import threading
from dataclasses import replace

import pytest

from fuse_trt.engine.errors import BackendClosedError, PlanMismatchError
from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.engine.tiers import TierTable
from fuse_trt.runtime.plan_sidecar import sidecar_path
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.models import feed_for


def test_a_backend_dropped_without_close_is_released_in_order(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    backend.infer("32", feed_for(FUSION_SPEC, 1, 32, 32))
    start = len(trt10.gpu.events)
    del backend
    gc.collect()
    events = trt10.gpu.events[start:]
    assert events[:len(tiers) + 2] == ["context.destroy"] * len(tiers) + ["engine.destroy",
                                                                          "runtime.destroy"]
    assert trt10.gpu.allocations == {} and trt10.gpu.retained == 0
    assert trt10.gpu.stack() == []


def test_a_backend_dropped_on_another_thread_is_released(trt10, tiers, tmp_path):
    """pycuda frees from another thread fail unless the context is pushed there first."""
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    holder = [TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()]

    def drop():
        holder.clear()
        gc.collect()

    thread = threading.Thread(target=drop)
    thread.start()
    thread.join()
    assert trt10.gpu.allocations == {} and trt10.gpu.retained == 0
    assert "detach ignored: out-of-thread context" not in trt10.gpu.events


def test_a_failed_execution_leaves_no_work_in_flight(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    trt10.emulation.fail_executions = 1
    with pytest.raises(RuntimeError, match="execute_async_v3 failed"):
        backend.infer("32", feed_for(FUSION_SPEC, 1, 32, 32))
    assert not trt10.gpu.pending_work()
    assert backend.infer("32", feed_for(FUSION_SPEC, 1, 32, 32))["fused"].shape == (1, 3, 32, 32)
    backend.close()
    assert trt10.gpu.allocations == {} and trt10.gpu.retained == 0


def test_close_synchronizes_before_it_frees(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    stream = backend._loaded.stream
    ran = []
    stream.enqueue(lambda: ran.append("queued work"))  # e.g. left by a failed call
    backend.close()
    assert ran == ["queued work"]
    assert "context.destroy while work is queued" not in trt10.gpu.events
    assert trt10.gpu.allocations == {} and trt10.gpu.retained == 0


def test_a_refused_optimization_profile_is_a_plan_mismatch_with_the_rebuild(trt10, tiers,
                                                                             tmp_path):
    """The bindings raise RuntimeError; a profile is held by one context at a time."""
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    path = sidecar_path(plan)
    sidecar = json.loads(path.read_text())
    sidecar["profiles"]["48"]["index"] = sidecar["profiles"]["32"]["index"]
    path.write_text(json.dumps(sidecar))
    first = tiers.by_name("32")  # tier 48 shaped like tier 32, so profile 0 covers it
    same = TierTable(tuple(replace(t, min_shape=first.min_shape, opt_shape=first.opt_shape,
                                   max_shape=first.max_shape) if t.name == "48" else t
                           for t in tiers), tiers.stride)
    with pytest.raises(PlanMismatchError, match="refused optimization profile 0 for tier 48.*"
                                                "rebuild it with: fuse-trt build"):
        TensorRTBackend(plan, FUSION_SPEC, same, "fp32").activate()
    assert trt10.gpu.retained == 0 and trt10.gpu.allocations == {}


class _CloseFirstLock:
    """The backend's lock, but the worker's acquire lets ``close()`` run to the end first."""

    def __init__(self, backend, worker_name: str):
        self._lock, self._backend, self._worker = threading.Lock(), backend, worker_name

    def __enter__(self):
        if threading.current_thread().name == self._worker:
            closer = threading.Thread(target=self._backend.close)
            closer.start()
            closer.join()
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()


def test_a_call_racing_close_gets_a_clear_backend_closed_error(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    backend = TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    backend._lock = _CloseFirstLock(backend, "camera")
    errors = []

    def camera():
        try:
            backend.infer("32", feed_for(FUSION_SPEC, 1, 32, 32))
        except Exception as error:  # the test inspects which one
            errors.append(error)

    thread = threading.Thread(target=camera, name="camera")
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], BackendClosedError), errors
    with pytest.raises(BackendClosedError, match="tensorrt backend closed"):
        backend.infer("32", feed_for(FUSION_SPEC, 1, 32, 32))
    assert trt10.gpu.retained == 0


def test_out_of_gpu_memory_at_activation_is_one_line_and_leaves_nothing(trt10, tiers, tmp_path):
    from fuse_trt.engine.errors import BackendUnavailableError

    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    trt10.gpu.fail_allocations_after = 3  # scratch and a few buffers, then cuMemAlloc fails
    with pytest.raises(BackendUnavailableError, match="out of GPU memory activating .*plan"):
        TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32").activate()
    assert trt10.gpu.allocations == {} and trt10.gpu.retained == 0 and trt10.gpu.stack() == []
