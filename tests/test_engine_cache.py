"""TensorRT plans built on first use into the per-user engine cache, on the emulated TensorRT:
the first `fuse --backend tensorrt` builds (with progress), the second reuses; nothing is
written into the bundle; one build per key under concurrent callers; info and cache clear."""
import logging
import shutil
import threading
import time

import numpy as np
import pytest

from fuse_trt import engine_cache
from fuse_trt.cli import main
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.images import read_image
from fuse_trt.runtime.cuda_memory import GpuInfo
from tests.support.tensorrt import FakeGpu, emulate

RTX = GpuInfo(0, "NVIDIA GeForce RTX 4090", (8, 9), "12.4.0", "12.4")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "engine-cache"
    monkeypatch.setenv(engine_cache.CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.directory, directory)
    return directory


def files(directory):
    return sorted((path.name, path.stat().st_mtime_ns) for path in directory.iterdir())


def fuse(bundle_dir, output, caplog):
    caplog.clear()
    with pytest.raises(SystemExit) as exit_code:
        main(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", str(output),
              "--bundle", str(bundle_dir), "--backend", "tensorrt", "--blend", "unet"])
        raise SystemExit(0)
    assert exit_code.value.code == 0
    return [record.getMessage() for record in caplog.records]


def test_first_use_builds_into_the_cache_and_the_second_run_reuses_it(
        bundle_copy, cache_dir, tmp_path, monkeypatch, caplog, capsys):
    emulate("10.16.1.11", FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))).install(monkeypatch)
    caplog.set_level(logging.INFO, logger="fuse_trt")
    before = files(bundle_copy)
    first = fuse(bundle_copy, tmp_path / "first.png", caplog)
    print("first run:", *first, sep="\n  ")
    assert any("building one into the engine cache" in line for line in first)
    assert any("TensorRT build of" in line and "building the engine" in line for line in first)
    [plan] = engine_cache.cached_plans()
    assert ".fp16.plan" in plan.name and plan.parent.parent == cache_dir  # FP16 by default
    assert files(bundle_copy) == before  # nothing written into the bundle

    second = fuse(bundle_copy, tmp_path / "second.png", caplog)
    print("second run:", *second, sep="\n  ")
    assert not any("building" in line for line in second)
    assert any(f"using the cached TensorRT plan {plan.name}" in line for line in second)
    assert engine_cache.cached_plans() == [plan]
    first_image = read_image(tmp_path / "first.png").rgb
    target = read_image(engine_cache.Path(__file__).parents[1] / "fuse_trt" / "samples"
                        / "astronaut.jpg").rgb
    assert np.array_equal(first_image, read_image(tmp_path / "second.png").rgb)
    assert np.abs(first_image.astype(int) - target.astype(int)).max() > 0

    capsys.readouterr()
    main(["info", str(bundle_copy)])
    assert f"{plan.parent.name}/{plan.name}: fp16, TensorRT 10.16.1.11" in capsys.readouterr().out
    main(["cache", "clear"])
    assert "removed 1 plan(s)" in capsys.readouterr().out
    assert engine_cache.cached_plans() == []


def test_two_callers_never_build_the_same_plan_at_once(tiny_bundle, cache_dir, monkeypatch):
    entry = cache_dir / "entry"
    builds, active = [], []

    def slow_build(bundle, precision, target):
        active.append(1)
        assert len(active) == 1, "two builds of one entry at once"
        time.sleep(0.3)
        target.mkdir()
        (target / "built").write_text("plan")
        builds.append(target)
        active.pop()

    monkeypatch.setattr(engine_cache, "_build_entry", slow_build)
    served = lambda: (entry / "built").is_file()  # noqa: E731
    workers = [threading.Thread(target=engine_cache.build_into_cache,
                                args=(tiny_bundle, "fp16", entry, served)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert builds == [entry]


def test_the_cache_key_separates_what_a_plan_depends_on(tiny_bundle):
    base = engine_cache.CacheKey.of(tiny_bundle, "10.16.1.11", RTX, "fp16").directory_name
    other_gpu = GpuInfo(0, "NVIDIA Jetson AGX Orin", (8, 7), "12.4.0", "12.4")
    others = {engine_cache.CacheKey.of(tiny_bundle, "10.3.0", RTX, "fp16").directory_name,
              engine_cache.CacheKey.of(tiny_bundle, "10.16.1.11", other_gpu, "fp16").directory_name,
              engine_cache.CacheKey.of(tiny_bundle, "10.16.1.11", RTX, "fp32").directory_name}
    assert len(others) == 3 and base not in others
    sha = Bundle.load(tiny_bundle.directory).manifest.find("onnx", "fp32")[-1].sha256
    assert base.startswith(sha[:16]) and "sm89" in base


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv(engine_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine_cache.cache_root() == tmp_path / "fuse-trt" / "engines"


def test_auto_on_a_gpu_picks_tensorrt_when_a_plan_can_be_built(tiny_bundle, monkeypatch):
    from fuse_trt.engine.choices import BackendName, Precision
    from fuse_trt.runtime.select import select_backend

    emulate("10.3.0").install(monkeypatch)
    chosen = select_backend(tiny_bundle, "auto", None, plans_buildable=True)
    assert (chosen.name, chosen.precision) == (BackendName.TENSORRT, Precision.FP16)
    assert select_backend(tiny_bundle, "auto", None).name == BackendName.ONNXRUNTIME


def test_build_progress_reports_phase_and_elapsed_time_without_a_monitor():
    from fuse_trt.build_engine.build_progress import BuildProgress

    lines = []
    progress = BuildProgress(lines.append, "x.plan")
    progress.enter("building the engine")
    with progress.heartbeat(interval=0.01):
        time.sleep(0.1)
    assert lines[0] == "TensorRT build of x.plan: building the engine (0 s)"
    assert any(line.startswith("TensorRT build of x.plan: still building the engine (")
               for line in lines[1:])
