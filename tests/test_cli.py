"""The CLI end to end: a real fusion, and one test per kind of bad input."""
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from fuse_trt.cli import main
from fuse_trt.engine.faces import sample_path
from fuse_trt.engine.images import read_image


def run_cli(args, capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip() and "WARN" not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def fused_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuse") / "fused.png"
    main(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", str(out), "--blend", "unet"])
    return out


def test_fuse_changes_the_face_and_nothing_far_from_it(fused_output):
    target = read_image(sample_path("astronaut")).rgb
    fused = read_image(fused_output).rgb
    assert fused.shape == target.shape
    difference = np.abs(fused.astype(int) - target.astype(int)).sum(axis=2)
    changed = np.argwhere(difference > 30)
    assert len(changed) > 2000  # the face really changed
    # Everything that changed lies in one compact region around the astronaut's face.
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    assert bottom - top < target.shape[0] * 0.6 and right - left < target.shape[1] * 0.6
    assert difference[-40:, :].max() == 0 and difference[:, :40].max() == 0


def test_fuse_with_ratio_zero_keeps_the_target(tmp_path, capsys):
    out = tmp_path / "kept.png"
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", out,
                            "--ratio", "0"], capsys)
    assert code == 0, err
    assert np.array_equal(read_image(out).rgb, read_image(sample_path("astronaut")).rgb)


def test_fuse_on_each_cpu_backend_gives_the_same_image(tmp_path, capsys, fused_output):
    """ONNX Runtime and PyTorch are two implementations of the UNet: each CLI run must match
    the other's, and both must differ from the classical composite the UNet refines."""
    outputs = {}
    for name, options in (("onnxruntime", ["--backend", "onnxruntime"]),
                          ("torch", ["--backend", "torch"]), ("classic", ["--refine", "none"])):
        out = tmp_path / f"{name}.png"
        code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", out,
                                *options], capsys)
        assert code == 0, err
        outputs[name] = read_image(out).rgb.astype(int)
    onnxruntime, torch = outputs["onnxruntime"], outputs["torch"]
    assert np.abs(onnxruntime - torch).max() <= 1
    refined = np.abs(torch - outputs["classic"]).sum(axis=2)
    assert (refined > 6).sum() > 2000, "the UNet did not change the composite"
    assert np.array_equal(read_image(fused_output).rgb, onnxruntime)  # auto picks onnxruntime


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def bad_inputs(tmp_path):
    good = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
    return {
        "missing": (tmp_path / "nope.png", "file not found"),
        "empty": (write_bytes(tmp_path / "empty.png", b""), "file is empty"),
        "truncated": (write_bytes(tmp_path / "cut.jpg",
                                  sample_path("astronaut").read_bytes()[:400]), "truncated"),
        "not-an-image": (write_bytes(tmp_path / "text.png", b"hello, this is text" * 10),
                         "not a readable image"),
        "png-header-only": (write_bytes(tmp_path / "head.png", good[:60]), "truncated"),
    }


# A directory TARGET is a folder run (tests/test_cli_batch.py).
@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "not-an-image",
                                  "png-header-only"])
def test_bad_target_file_gives_one_line_and_writes_nothing(tmp_path, capsys, bad_inputs, case):
    path, message = bad_inputs[case]
    out = tmp_path / "out" / "fused.png"
    out.parent.mkdir()
    code, _, err = run_cli(["fuse", "sample:grace_hopper", path, "-o", out], capsys)
    assert_one_line_error(code, err, str(path), message)
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(("side", "message"), [(9000, "9000x9000 is over"), (20000, "pixel cap")])
def test_image_over_the_pixel_cap_is_refused_from_its_header(tmp_path, capsys, side, message):
    # A PNG whose header claims side x side pixels but whose data is for 8 x 8: decoding it
    # would fail, so a cap message proves the size is checked before decoding.
    png = bytearray(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    png[16:24] = side.to_bytes(4, "big") * 2
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    huge = write_bytes(tmp_path / "huge.png", bytes(png))
    code, _, err = run_cli(["fuse", "sample:grace_hopper", huge, "-o", tmp_path / "o.png"], capsys)
    assert_one_line_error(code, err, str(huge), message)


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit"])
def test_grey_rgba_and_16_bit_targets_are_handled(tmp_path, capsys, kind):
    target = cv2.imread(str(sample_path("astronaut")))
    if kind == "grey":
        image, name = cv2.cvtColor(target, cv2.COLOR_BGR2GRAY), "grey.png"
    elif kind == "rgba":
        image, name = np.dstack([target, np.full(target.shape[:2], 200, np.uint8)]), "rgba.png"
    else:
        image, name = target.astype(np.uint16) * 257, "deep.png"
    source = tmp_path / name
    cv2.imwrite(str(source), image)
    out = tmp_path / f"out-{name}"
    code, _, err = run_cli(["fuse", "sample:grace_hopper", source, "-o", out], capsys)
    assert code == 0, err
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.shape[:2] == target.shape[:2] and written.dtype == np.uint8
    if kind == "rgba":
        assert written.shape[2] == 4 and (written[:, :, 3] == 200).all()


def test_no_face_is_a_clear_error(tmp_path, capsys):
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 128, np.uint8))
    code, _, err = run_cli(["fuse", "sample:grace_hopper", blank, "-o", tmp_path / "o.png"], capsys)
    assert_one_line_error(code, err, "no face found in the target image")
    code, _, err = run_cli(["fuse", blank, "sample:astronaut", "-o", tmp_path / "o.png"], capsys)
    assert_one_line_error(code, err, "no face found in the source image")


def test_unwritable_output_path_keeps_the_existing_file(tmp_path, capsys):
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut",
                            "-o", tmp_path / "missing-dir" / "o.png"], capsys)
    assert_one_line_error(code, err, "does not exist")
    existing = tmp_path / "o.xyz"
    existing.write_bytes(b"keep me")
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", existing],
                           capsys)
    assert_one_line_error(code, err, "cannot write images of type")
    assert existing.read_bytes() == b"keep me"


def test_unknown_backend_and_sample_are_one_line_errors(tmp_path, capsys):
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                            tmp_path / "o.png", "--backend", "tpu"], capsys)
    assert_one_line_error(code, err, "tpu")
    code, _, err = run_cli(["fuse", "sample:nobody", "sample:astronaut", "-o",
                            tmp_path / "o.png"], capsys)
    assert_one_line_error(code, err, "unknown sample 'nobody'")


def test_face_index_out_of_range(tmp_path, capsys):
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                            tmp_path / "o.png", "--face", "3"], capsys)
    assert_one_line_error(code, err, "face index 3")


def test_build_then_info_then_fuse_with_the_bundle(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    code, out, err = run_cli(["build", "-o", bundle, "--tiers", "512,768,1024"], capsys)
    assert code == 0, err
    assert "model.onnx (onnx/fp32)" in out
    code, out, err = run_cli(["info", bundle], capsys)
    assert code == 0 and "768: short edge 512 <1024 (scale)" in out
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                            tmp_path / "o.png", "--bundle", bundle, "--blend", "unet"], capsys)
    assert code == 0, err


def test_missing_bundle_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["info", tmp_path / "nothing"], capsys)
    assert_one_line_error(code, err, "bundle directory not found")


def test_a_second_build_extends_the_bundle_without_reexporting(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert run_cli(["build", "-o", bundle, "--tiers", "512"], capsys)[0] == 0
    first = (bundle / "model.onnx").stat().st_mtime_ns
    code, out, err = run_cli(["build", "-o", bundle, "--tiers", "512", "--precision", "fp16"],
                             capsys)
    assert code == 0, err
    assert "model.onnx (onnx/fp32)" in out and "model.fp16.onnx (onnx/fp16)" in out
    assert (bundle / "model.onnx").stat().st_mtime_ns == first
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o",
                            tmp_path / "o.png", "--bundle", bundle, "--precision", "fp16",
                            "--backend", "onnxruntime", "--blend", "unet"], capsys)
    assert code == 0, err


def test_build_imports_a_users_own_onnx_model(tmp_path, capsys):
    from fuse_trt.build_engine.export import export_onnx
    from fuse_trt.engine.unet import TINY_IDENTITY_UNET_CONFIG
    from tests.conftest import perturbed_unet

    config = TINY_IDENTITY_UNET_CONFIG  # a two-input model: images + identity embedding
    own = export_onnx(perturbed_unet(config), config.spec(), tmp_path / "own.onnx")
    bundle = tmp_path / "bundle"
    code, out, err = run_cli(["build", "-o", bundle, "--onnx", own, "--stride", config.stride,
                              "--tiers", "32,48,64"], capsys)
    assert code == 0, err
    assert "model.onnx (onnx/fp32)" in out and "weights" not in out
    out_path = tmp_path / "o.png"
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", out_path,
                            "--bundle", bundle, "--blend", "unet"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", out_path,
                            "--bundle", bundle, "--blend", "unet", "--backend", "torch"], capsys)
    assert_one_line_error(code, err, "needs a built-in FusionUNet")


def test_build_refuses_an_onnx_with_other_inputs(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["fused"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("fused", TensorProto.FLOAT, None)])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    code, _, err = run_cli(["build", "-o", tmp_path / "b", "--onnx", path], capsys)
    assert_one_line_error(code, err, "match no fusion spec")
    assert not (tmp_path / "b").exists()


def fusion_onnx(path: Path, static: bool = False, output: str = "fused") -> Path:
    """A stand-in fusion model (fused = composite) with the fusion spec's input names."""
    import onnx
    from onnx import TensorProto, helper

    image = [1, 3, 64, 64] if static else ["batch", 3, "height", "width"]
    inputs = [helper.make_tensor_value_info("composite", TensorProto.FLOAT, image),
              helper.make_tensor_value_info("mask", TensorProto.FLOAT,
                                            ["batch", 1, "height", "width"]),
              helper.make_tensor_value_info("context", TensorProto.FLOAT, image)]
    graph = helper.make_graph([helper.make_node("Identity", ["composite"], [output])], "g",
                              inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                     image)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_tiers_off_the_stride_are_a_one_line_user_error(tmp_path, capsys):
    own = fusion_onnx(tmp_path / "m.onnx")
    code, _, err = run_cli(["build", "-o", tmp_path / "b", "--onnx", own, "--tiers", "500,768"],
                           capsys)
    assert_one_line_error(code, err, "500", "multiples of the model's stride 16")
    assert code == 2 and not (tmp_path / "b").exists()  # a bad option value: a usage error


@pytest.mark.parametrize(("kind", "message"), [("static", "axis 0 of 'composite' must be dynamic"),
                                               ("output", "no tensor 'fused'")])
def test_a_users_onnx_that_breaks_the_spec_is_a_one_line_user_error(tmp_path, capsys, kind,
                                                                    message):
    own = fusion_onnx(tmp_path / "m.onnx", static=kind == "static",
                      output="out" if kind == "output" else "fused")
    code, _, err = run_cli(["build", "-o", tmp_path / "b", "--onnx", own], capsys)
    assert_one_line_error(code, err, str(own), message)
    assert code == 1 and not (tmp_path / "b").exists()


def test_a_malformed_option_value_is_a_usage_error(tmp_path, capsys):
    code, _, err = run_cli(["build", "-o", tmp_path / "b", "--tiers", "big"], capsys)
    assert_one_line_error(code, err, "512,768,1024")
    assert code == 2
def test_vram_budget_sizes_the_tier_batches_and_info_reports_the_plan(tmp_path, capsys):
    import json

    from fuse_trt.build_engine.export import export_onnx
    from fuse_trt.engine.unet import TINY_UNET_CONFIG
    from tests.conftest import perturbed_unet

    own = export_onnx(perturbed_unet(TINY_UNET_CONFIG), TINY_UNET_CONFIG.spec(),
                      tmp_path / "own.onnx")
    plans = {}
    for budget in ("1MiB", "4MiB"):
        bundle = tmp_path / budget
        code, _, err = run_cli(["build", "-o", bundle, "--onnx", own, "--stride",
                                TINY_UNET_CONFIG.stride, "--tiers", "32,48,64", "--max-batch",
                                "8", "--vram-budget", budget], capsys)
        assert code == 0, err
        code, out, err = run_cli(["info", bundle, "--json"], capsys)
        assert code == 0, err
        plans[budget] = json.loads(out)["memory_plan"]
        code, text, _ = run_cli(["info", bundle], capsys)
        assert "memory plan (fp16 TensorRT, float16 I/O; budget" in text
    for budget, plan in plans.items():
        assert plan["device_total_bytes"] <= plan["budget_bytes"] == {"1MiB": 1, "4MiB": 4}[
            budget] << 20
        assert set(plan["tiers"]) == {"32", "48", "64"}
        assert plan["device_total_bytes"] == (plan["weights_bytes"] + plan["shared_scratch_bytes"]
                                              + plan["shared_io_bytes"])
    small, large = ([t["max_batch"] for t in plans[b]["tiers"].values()] for b in ("1MiB", "4MiB"))
    assert all(s <= l for s, l in zip(small, large)) and small != large
    code, _, err = run_cli(["build", "-o", tmp_path / "tiny", "--onnx", own, "--stride",
                            TINY_UNET_CONFIG.stride, "--tiers", "32,48,64", "--vram-budget",
                            "1KiB"], capsys)
    assert_one_line_error(code, err, "cannot hold one image of tier")
    code, _, err = run_cli(["build", "-o", tmp_path / "x", "--vram-budget", "lots"], capsys)
    assert code == 2 and "300MiB" in err
