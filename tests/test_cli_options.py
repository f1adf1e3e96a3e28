"""`fuse` options: every conflict is a one-line usage error (exit 2) that names it, TensorRT
asked for where it cannot run is an error, and a turned target face is reported in one line."""
import logging

import numpy as np
import pytest

from fuse_trt.cli import main
from fuse_trt.engine.faces import sample_path
from fuse_trt.engine.images import read_image, write_image
from fuse_trt.runtime import select


def run_fuse(args, capsys, target="sample:astronaut"):
    try:
        main(["fuse", "sample:grace_hopper", str(target), *[str(a) for a in args]])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args, message", [
    (["--refine", "none", "--backend", "tensorrt"],
     "--backend chooses how the UNet runs, but --refine none runs no UNet; drop it or use "
     "--refine unet"),
    (["--refine", "none", "--precision", "fp32"], "--precision chooses how the UNet runs"),
    (["--blend", "classic", "--backend", "onnxruntime", "--region", "frame"],
     "--backend and --region choose how the UNet runs, but --refine none runs no UNet"),
    (["--blend", "seamless", "--refine", "unet"],
     "--blend is the deprecated form of --composite and --refine; give one or the other"),
    (["--face", "second"], "face must be largest, all or an index"),
])
def test_options_without_effect_are_usage_errors(tmp_path, capsys, args, message):
    code, _, err = run_fuse(["-o", tmp_path / "o.png", *args], capsys)
    assert code == 2
    assert err.strip().startswith("error: ") and "\n" not in err.strip()
    assert message in err
    assert not (tmp_path / "o.png").exists()


def test_backend_tensorrt_without_tensorrt_is_an_error_not_a_fallback(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(select, "tensorrt_installed", lambda: False)
    code, _, err = run_fuse(["-o", tmp_path / "o.png", "--backend", "tensorrt"], capsys)
    assert code == 1 and not (tmp_path / "o.png").exists()
    assert err.strip() == ("error: --backend tensorrt cannot run here: TensorRT or pycuda is not "
                           "installed (pip install 'fuse-trt[gpu]')")


def test_torch_has_no_int8(tmp_path, capsys):
    code, _, err = run_fuse(["-o", tmp_path / "o.png", "--backend", "torch", "--precision",
                             "int8"], capsys)
    assert code == 2 and "the torch backend has no int8" in err


def test_auto_says_which_backend_it_used_and_why(tmp_path, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="fuse_trt"):
        code, _, err = run_fuse(["-o", tmp_path / "o.png"], capsys)
    assert code == 0, err
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backend ")]
    assert len(lines) == 1
    assert lines[0].startswith("backend onnxruntime (CPUExecutionProvider), precision fp32 "
                               "(auto); skipped tensorrt: ")
    assert "; onnxruntime CUDA: " in lines[0]


def test_a_turned_target_face_is_kept_and_reported_in_one_line(tmp_path, capsys, caplog,
                                                              camera):
    target = tmp_path / "camera.png"
    write_image(target, camera)
    out = tmp_path / "out.png"
    with caplog.at_level(logging.WARNING, logger="fuse_trt"):
        code, _, err = run_fuse(["-o", out, "--refine", "none"], capsys, target=target)
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "turned past yaw 0.50 left untouched" in warnings[0]
    assert np.array_equal(read_image(out).rgb, camera)
    code, _, err = run_fuse(["-o", out, "--refine", "none", "--allow-profile"], capsys,
                            target=target)
    assert code == 0 and not np.array_equal(read_image(out).rgb, camera)


def test_face_index_past_the_faces_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_fuse(["-o", tmp_path / "o.png", "--face", "4"], capsys)
    assert code == 1 and err.strip() == "error: face index 4 requested, 1 face(s) found"


def test_blend_unet_still_works_as_the_deprecated_alias_of_the_default(tmp_path, capsys):
    code, _, err = run_fuse(["-o", tmp_path / "a.png", "--blend", "unet"], capsys)
    assert code == 0, err
    code, _, err = run_fuse(["-o", tmp_path / "b.png"], capsys)
    assert code == 0, err
    assert np.array_equal(read_image(tmp_path / "a.png").rgb, read_image(tmp_path / "b.png").rgb)
    assert not np.array_equal(read_image(tmp_path / "b.png").rgb,
                              read_image(sample_path("astronaut")).rgb)
