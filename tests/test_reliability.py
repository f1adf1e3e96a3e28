"""Issue 16, one test (or a few) per defect, through the CLI where a user meets it. The
bad-input table cases are in tests/test_bad_inputs.py."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fuse_trt.engine.images import read_image
from tests.support.bad_inputs import full_disk as full_disk_at
from tests.support.bad_inputs import (damaged_before_close, run_in_process, truncate_after_frames,
                                      write_face_video, write_orientation_6)


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    return write_face_video(tmp_path_factory.mktemp("video") / "in.avi")


# 1 -- a stream on a full disk -------------------------------------------------------------
@pytest.fixture
def full_disk(tmp_path):
    """A 150 KiB disk: a real tmpfs where this process may mount one, else the sink's view of
    free space shrinks by what is written into the directory."""
    with full_disk_at(tmp_path / "small") as disk_and_real:
        yield disk_and_real


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_stream_on_a_full_disk_fails_and_keeps_the_old_output(face_video, full_disk, suffix):
    disk, real = full_disk
    output = disk / f"out{suffix}"
    output.write_bytes(b"old")
    argv = ["stream", "--source", "sample:grace_hopper", str(face_video), "-o", str(output),
            "--blend", "classic", "--every", "5"]
    if real:  # a real process, so FFmpeg's own lines on fd 2 would show
        done = subprocess.run([sys.executable, "-m", "fuse_trt.cli", *argv], text=True,
                              capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        code, err = done.returncode, done.stderr
    else:
        code, err = run_in_process(argv)
    assert code == 1, err
    assert err.strip().count("\n") == 0 and "nothing was written there" in err, err
    assert output.read_bytes() == b"old"
    assert sorted(p.name for p in disk.iterdir()) == [output.name]


def test_a_video_that_does_not_read_back_is_not_put_in_place(tmp_path):
    from fuse_trt.engine.errors import FuseTrtError

    sink = damaged_before_close(tmp_path / "out.avi")
    with pytest.raises(FuseTrtError, match="holds 0 readable frames of 3 written"):
        sink.close()
    assert list(tmp_path.iterdir()) == []


# 2 -- EXIF orientation -------------------------------------------------------------------
def test_a_sideways_phone_photo_is_fused_upright(tmp_path, grace):
    sideways = write_orientation_6(grace, tmp_path / "phone.jpg")
    upright = tmp_path / "upright.jpg"
    cv2.imwrite(str(upright), cv2.cvtColor(grace, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert np.abs(read_image(sideways).rgb.astype(int) - read_image(upright).rgb).mean() < 2.0
    outputs = []
    for target in (sideways, upright):
        output = tmp_path / f"fused-{target.stem}.png"
        code, err = run_in_process(["fuse", "sample:astronaut", str(target), "-o", str(output),
                                    "--blend", "classic"])
        assert code == 0, err
        outputs.append(read_image(output).rgb.astype(int))
    assert outputs[0].shape == grace.shape
    assert np.abs(outputs[0] - outputs[1]).mean() < 2.0
    assert np.abs(outputs[1] - grace).max() > 60  # a face really was fused


# 4 -- INT8 calibration in bounded memory ---------------------------------------------------
def test_calibration_samples_are_compact_and_exact(tiny_bundle, tmp_path):
    from fuse_trt.calibration.cache import load_samples, save_samples
    from fuse_trt.calibration.dataset import CalibrationConfig, build_samples

    bundle = tiny_bundle
    samples = build_samples(bundle.spec, bundle.tiers, CalibrationConfig(size=12))
    for sample in samples:
        assert sample.stored["composite"].dtype == sample.stored["context"].dtype == np.uint8
        assert sample.feed["composite"].dtype == np.float32
    float_bytes = sum(a.nbytes for s in samples for a in s.feed.values())
    path = save_samples(tmp_path / "set.npz", samples)
    assert path.stat().st_size < float_bytes / 4
    for loaded, built in zip(load_samples(path), samples):
        for name in built.stored:
            np.testing.assert_array_equal(loaded.feed[name], built.feed[name])


def test_calibration_session_keeps_no_arena():
    from fuse_trt.calibration.quantize import bounded_session
    from fuse_trt.models import default_bundle_dir

    session = bounded_session(default_bundle_dir() / "model.onnx")
    options = session.get_session_options()
    assert not options.enable_cpu_mem_arena and not options.enable_mem_pattern


# 5 -- large images -----------------------------------------------------------------------
def test_wide_dilation_stays_within_its_scale_of_the_exact_disc():
    from fuse_trt.engine.faces.mask import EXACT_DILATION_PIXELS, dilate_mask

    mask = np.zeros((1200, 1000), np.float32)
    cv2.ellipse(mask, (500, 600), (200, 260), 15, 0, 360, 1.0, -1)
    distance = cv2.distanceTransform((mask <= 0).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    for pixels in (5, EXACT_DILATION_PIXELS, 150):
        grown = dilate_mask(mask, pixels) > 0
        factor = max(1, pixels // EXACT_DILATION_PIXELS)
        # a reduced-scale cell the mask touches at all counts as inside (a small mask is never
        # lost), which may add up to one more cell outside
        assert grown[distance <= pixels - factor].all()
        assert not grown[distance > pixels + 2 * factor].any()
        if factor == 1:
            np.testing.assert_array_equal(grown, distance <= pixels)


def test_wide_blur_at_reduced_scale_matches_the_exact_one():
    from fuse_trt.engine.faces.mask import gaussian_blur

    mask = np.zeros((900, 800), np.float32)
    cv2.ellipse(mask, (400, 450), (200, 260), 0, 0, 360, 1.0, -1)
    exact = cv2.GaussianBlur(mask, (0, 0), 40.0, borderType=cv2.BORDER_REPLICATE)
    assert np.abs(gaussian_blur(mask, 40.0) - exact).max() < 0.01


def test_colour_transfer_on_a_large_face_matches_the_full_statistics(grace):
    from fuse_trt.engine.faces.composite import colour_transfer_lab

    target = cv2.resize(grace, (2400, 2400))
    source = cv2.resize(np.ascontiguousarray(grace[:, ::-1] // 2 + 60), (2400, 2400))
    mask = np.zeros(target.shape[:2], np.float32)
    cv2.ellipse(mask, (1200, 1000), (500, 650), 0, 0, 360, 1.0, -1)
    moved = colour_transfer_lab(source, target, mask)
    inside = mask > 0
    lab = [cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[inside].mean(axis=0) for image in (moved, target)]
    assert np.abs(lab[0] - lab[1]).max() < 1.5
    np.testing.assert_array_equal(moved[~inside.any(axis=1)], source[~inside.any(axis=1)])


def test_blends_in_strips_give_what_the_whole_box_at_once_gives():
    from fuse_trt.engine.faces.composite import alpha_blend
    from fuse_trt.engine.fusion_input import context_image

    rng = np.random.default_rng(16)
    foreground, background = rng.integers(0, 256, (2, 700, 900, 3), dtype=np.uint8)
    alpha = np.zeros((700, 900), np.float32)  # a box of several strips, the last one partial
    cv2.ellipse(alpha, (450, 350), (420, 330), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 9.0)
    base = background.astype(np.float32)
    whole = np.clip(np.rint(base + alpha[..., None] * (foreground - base)), 0, 255)
    np.testing.assert_array_equal(alpha_blend(foreground, background, alpha), whole)
    np.testing.assert_array_equal(context_image(background, alpha),
                                  (background * (1.0 - alpha[:, :, None])).astype(np.uint8))


# 6 -- bundles: verify, and no silent replacement ------------------------------------------
def test_build_force_replaces_a_bundle_with_other_tiers(tmp_path):
    import shutil

    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.models import default_bundle_dir

    bundle = Path(shutil.copytree(default_bundle_dir(), tmp_path / "bundle"))
    code, err = run_in_process(["build", "--tiers", "64", "-o", str(bundle), "--force"])
    assert code == 0, err
    assert Bundle.load(bundle).tiers.names() == ["64"]
    code, err = run_in_process(["info", str(bundle)])
    assert code == 0, err


# 8 -- a stream cut short -----------------------------------------------------------------
def test_a_stream_cut_short_says_how_much_was_read_and_fails(face_video, tmp_path):
    truncated = truncate_after_frames(face_video, tmp_path / "cut.avi", 26)
    output = tmp_path / "out.avi"
    code, err = run_in_process(["stream", "--source", "sample:grace_hopper", str(truncated),
                                "-o", str(output), "--blend", "classic", "--every", "5"])
    assert code == 1 and "reading stopped after 26 of the 40 frames" in err, err
    capture = cv2.VideoCapture(str(output))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 26
    capture.release()


# 9 -- consistency and noise --------------------------------------------------------------
def test_stream_prints_no_progress_line_off_a_terminal(face_video, tmp_path):
    code, err = run_in_process(["stream", "--source", "sample:grace_hopper", str(face_video),
                                "-o", "-", "--blend", "classic", "--every", "10",
                                "--max-frames", "12"])
    assert code == 0, err
    assert "fps" not in err and "frame " not in err


def test_a_warning_repeated_every_frame_is_logged_once_with_a_count(caplog):
    from fuse_trt.stream.log_once import warnings_once_per_run

    log = logging.getLogger("fuse_trt")
    with caplog.at_level(logging.WARNING, logger="fuse_trt"), warnings_once_per_run():
        for _ in range(40):
            log.warning("image %dx%d is above the largest tier; scaling", 4000, 3000)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and "came 39 more time(s)" in messages[1]


def test_libpng_warnings_stay_off_stderr(tmp_path, capfd):
    from PIL import Image, ImageCms

    from fuse_trt.engine.faces import load_sample

    grey = tmp_path / "grey.png"  # an RGB colour profile on a grey PNG: libpng warns about it
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(load_sample("grace_hopper")[:, :, 1]).save(grey, icc_profile=profile)
    code, err = run_in_process(["fuse", "sample:astronaut", str(grey), "-o",
                                str(tmp_path / "out.png"), "--refine", "none"])
    assert code == 0, err
    assert "libpng" not in capfd.readouterr().err + err


@pytest.mark.slow
def test_two_builds_from_the_same_weights_write_the_same_bundle(tmp_path):
    """`fuse-trt build` of the shipped weights twice, in processes with different hash seeds:
    the same model.onnx and manifest bytes, so artifact hashes and plan caches stay valid.
    (--weights takes only the shipped architecture, so the smallest tier keeps it short.)"""
    files = []
    for seed in ("1", "2"):
        output = tmp_path / f"bundle-{seed}"
        done = subprocess.run([sys.executable, "-m", "fuse_trt.cli", "build", "--tiers", "64",
                               "-o", str(output)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        files.append({path.name: path.read_bytes() for path in sorted(output.iterdir())})
    assert "model.onnx" in files[0] and "manifest.json" in files[0]
    assert files[0] == files[1]


def test_export_gives_the_same_bytes_in_every_process(tmp_path):
    script = ("import sys; from pathlib import Path; from tests.conftest import perturbed_unet; "
              "from fuse_trt.build_engine.export import export_onnx; "
              "from fuse_trt.engine.unet import TINY_UNET_CONFIG as c; "
              "export_onnx(perturbed_unet(c, 0), c.spec(), Path(sys.argv[1]))")
    outputs = []
    for seed in ("1", "2"):
        path = tmp_path / f"model-{seed}.onnx"
        subprocess.run([sys.executable, "-c", script, str(path)], check=True,
                       cwd=Path(__file__).resolve().parents[1],
                       env={**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"})
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
