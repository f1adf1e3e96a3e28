"""`fuse-trt fuse SOURCE DIR_OR_GLOB -o OUT_DIR`, `--target-face` and `--map` from the CLI."""
from __future__ import annotations

import numpy as np
import pytest

from fuse_trt.cli import main
from fuse_trt.engine.images import read_image, write_image
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from tests.stream.test_targeting import crossing_frames, face_crop


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return exit_.code
    return 0


@pytest.fixture
def shots(tmp_path, astronaut, grace):
    folder = tmp_path / "shots"
    folder.mkdir()
    write_image(folder / "a.png", astronaut)
    write_image(folder / "b.jpg", grace)
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


def test_a_folder_fuses_every_image_once_activated_and_reports_failures(
        shots, tmp_path, tiny_bundle, monkeypatch, capsys, astronaut):
    activations = []
    original = OnnxRuntimeBackend._activate_impl
    monkeypatch.setattr(OnnxRuntimeBackend, "_activate_impl",
                        lambda self: (activations.append(1), original(self))[1])
    out = tmp_path / "out"
    code = run(["fuse", "sample:grace_hopper", str(shots), "-o", str(out), "--blend", "unet",
                "--bundle", str(tiny_bundle.directory)])
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]  # nothing for broken
    assert captured.err.count("failed ") == 1 and "broken.png" in captured.err
    assert "fused 2 of 3 images into" in captured.out and "1 failed" in captured.out
    assert activations == [1]
    fused = read_image(out / "a.png").rgb
    assert fused.shape == astronaut.shape and np.abs(fused.astype(int) - astronaut).max() > 30


def test_a_glob_selects_files_and_exits_0_when_all_succeed(shots, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["fuse", "sample:grace_hopper", str(shots / "a*.png"),
                "-o", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["a.png"]
    assert "fused 1 of 1 images" in capsys.readouterr().out


@pytest.mark.parametrize("pattern", ["*.png", "."])
def test_a_glob_or_folder_without_images_is_a_one_line_error(tmp_path, capsys, pattern):
    (tmp_path / "notes.txt").write_text("no image here")
    assert run(["fuse", "sample:grace_hopper", str(tmp_path / pattern), "-o",
                str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no images" in err
    assert not (tmp_path / "out").exists()


def test_target_face_and_map_from_the_cli(tmp_path, astronaut, grace, capsys):
    frame = crossing_frames(face_crop(astronaut), face_crop(grace))[0]
    write_image(tmp_path / "frame.png", frame)
    write_image(tmp_path / "ref.png", grace)
    assert run(["fuse", "sample:astronaut", str(tmp_path / "frame.png"),
                "-o", str(tmp_path / "one.png"), "--target-face", str(tmp_path / "ref.png")]) == 0
    one = read_image(tmp_path / "one.png").rgb.astype(int)
    changed = np.abs(one - frame).sum(axis=2) > 20
    assert changed[:200].sum() == 0 and changed[210:].sum() > 500
    assert run(["fuse", "-", str(tmp_path / "frame.png"), "-o", str(tmp_path / "two.png"),
                "--map", f"sample:grace_hopper={tmp_path / 'ref.png'}",
                "--map", "sample:astronaut=sample:astronaut"]) == 0
    two = read_image(tmp_path / "two.png").rgb.astype(int)
    changed = np.abs(two - frame).sum(axis=2) > 20
    assert changed[:200].sum() > 500 and changed[210:].sum() > 500
    assert run(["fuse", "sample:astronaut", str(tmp_path / "frame.png"), "-o",
                str(tmp_path / "three.png"), "--map", "a.png=b.png"]) == 1
    assert "give - instead of the source" in capsys.readouterr().err
