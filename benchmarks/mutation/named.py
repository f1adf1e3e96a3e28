"""The bugs issue 19 names, each put in by hand and run against the test that must catch it.

    python benchmarks/mutation/named.py            # every named mutation
    python benchmarks/mutation/named.py paste-shift  # some

Each entry replaces one exact piece of a module's source (it must occur once) and serves the
changed module to a forked pytest run of the named tests, as run.py serves its mutants: the
working tree is never written. The tests must pass on the code as it is and fail on the
mutation; the table this prints is the "mutation -> killing test" map in docs/mutation.md.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from driver import run_tests_forked  # noqa: E402
from run import preload  # noqa: E402


@dataclass(frozen=True)
class Named:
    name: str
    path: str
    module: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str  # the weakness of issue 19 this stands for


TIERS = "tests/engine/test_tiers.py"
ORT = "tests/runtime/test_onnxruntime_backend.py"
TRT = "tests/runtime/tensorrt/test_tensorrt_backend.py"
NAMED = (
    Named("reflect-to-zero-padding", "engine/tiers.py", "fuse_trt.engine.tiers",
          "cv2.BORDER_REFLECT)", "cv2.BORDER_CONSTANT)",
          (f"{TIERS}::test_pad_contents_mirror_the_image",
           f"{TIERS}::test_padding_reflects_the_image_hand_computed"),
          "reflect padding replaced by zero padding (TierPlan.apply)"),
    Named("undo-crops-the-wrong-rows", "engine/tiers.py", "fuse_trt.engine.tiers",
          "cropped = planned[:height, :width]", "cropped = planned[1:height + 1, :width]",
          (f"{TIERS}::test_plan_then_undo_returns_original_size",),
          "test_plan_then_undo_returns_original_size checked shapes only"),
    Named("ort-rebinds-every-call", "runtime/onnxruntime_backend.py",
          "fuse_trt.runtime.onnxruntime_backend",
          "if bound.sides != sides:", "if True:",
          (f"{ORT}::test_binding_is_redone_only_when_the_shape_changes",),
          "the ONNX Runtime binding redone on every call"),
    Named("ort-returns-its-buffers", "runtime/onnxruntime_backend.py",
          "fuse_trt.runtime.onnxruntime_backend",
          "{name: views[name].copy() for",
          "{name: views[name] for",
          (f"{ORT}::test_results_are_copies_equal_to_torch",),
          "the ONNX Runtime buffer test re-ran the identical feed: an overwritten result "
          "looked the same"),
    Named("validate-1000x-looser", "build_engine/validate.py", "fuse_trt.build_engine.validate",
          "atol=spec.atol, rtol=spec.rtol", "atol=spec.atol * 1000, rtol=spec.rtol * 1000",
          ("tests/build_engine/test_validate.py::"
           "test_an_export_off_by_2e_3_is_rejected_on_every_tier",),
          "validation tolerance 1000x too loose"),
    Named("largest-is-the-smallest", "engine/faces/detect.py", "fuse_trt.engine.faces.detect",
          "key=lambda face: face.area, reverse=True)", "key=lambda face: face.area)",
          ("tests/test_api.py::test_largest_picks_the_bigger_of_two_faces_of_different_sizes",),
          "\"largest face\" returns the smallest (faces are ordered largest first at detection)"),
    Named("paste-shift", "engine/faces/paste.py", "fuse_trt.engine.faces.paste",
          "alpha_blend(crop_result, region.crop(frame), alpha, in_place=True)",
          "alpha_blend(crop_result, frame[region.y0 + 1:region.y1 + 1, region.x0:region.x1], "
          "alpha, in_place=True)",
          ("tests/engine/faces/test_paste.py::"
           "test_a_gradient_crop_lands_pixel_for_pixel_in_its_window",),
          "a paste window shifted by one pixel"),
    Named("16-bit-cut-not-scaled", "engine/images.py", "fuse_trt.engine.images",
          "return (image // 257).astype(np.uint8)", "return image.astype(np.uint8)",
          ("tests/engine/test_images.py::test_16_bit_grey_is_scaled_by_value",
           "tests/engine/test_images.py::test_16_bit_colour_keeps_channels_in_rgb_order"),
          "16-bit input cut with astype(uint8) instead of scaled"),
    Named("every-tier-gets-the-first-profile", "build_engine/tensorrt_config.py",
          "fuse_trt.build_engine.tensorrt_config",
          "shapes = spec.profile_shapes(tier)", "shapes = spec.profile_shapes(tiers[0])",
          ("tests/build_engine/tensorrt/test_tensorrt_builder.py::"
           "test_plan_and_sidecar_say_what_the_plan_was_built_for",),
          "a builder that gave every tier the first tier's shapes"),
    Named("trt-returns-its-buffers", "runtime/tensorrt_backend.py",
          "fuse_trt.runtime.tensorrt_backend",
          "return {name: array.copy() for name, array in staged.items()}", "return staged",
          (f"{TRT}::test_results_are_copies_that_later_calls_do_not_overwrite",),
          "TensorRT test_results_are_copies... compared the code with itself"),
    Named("trt-input-never-uploaded", "runtime/tensorrt_backend.py",
          "fuse_trt.runtime.tensorrt_backend",
          "loaded.buffers[name].upload(array, loaded.stream)", "pass",
          (f"{TRT}::test_inference_runs_from_worker_threads",),
          "TensorRT test_inference_runs_from_worker_threads compared the code with itself"),
    Named("trt10-takes-the-8.6-context-path", "runtime/trt_compat.py",
          "fuse_trt.runtime.trt_compat",
          "if self.major == 8:\n            return engine.create_execution_context_without",
          "if self.major <= 10:\n            return engine.create_execution_context_without",
          ("tests/runtime/tensorrt/test_conformance.py::"
           "test_report_attributes_used_per_version",),
          "test_report_attributes_used_per_version asserted only all(values)"),
    Named("unet-output-never-pasted", "runtime/batching.py", "fuse_trt.runtime.batching",
          "prep.result = plan.undo(", "_ = plan.undo(",
          ("tests/test_cli.py::test_fuse_on_each_cpu_backend_gives_the_same_image",
           "tests/test_api.py::test_two_input_model_runs_through_the_pipeline",
           "tests/test_api.py::test_frame_region_runs_the_whole_frame"),
          "the CLI's each-backend test compared the code with itself; the two-input and "
          "frame-region tests checked shapes only"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="named mutations (default: all)")
    args = parser.parse_args()
    by_name = {n.name: n for n in NAMED}
    unknown = set(args.names) - set(by_name)
    if unknown:
        parser.error(f"unknown {sorted(unknown)}; have {sorted(by_name)}")
    preload()
    failures = 0
    for named in [by_name[n] for n in args.names] or NAMED:
        path = REPO / named.path
        source = path.read_text()
        if source.count(named.old) != 1:
            print(f"{named.name}: {named.old!r} occurs {source.count(named.old)} times in "
                  f"{named.path}; update named.py")
            failures += 1
            continue
        for test in named.tests:
            clean, _ = run_tests_forked([test], None, None, None, 900, REPO)
            mutated, _ = run_tests_forked([test], named.module, path, None, 900, REPO,
                                          source=source.replace(named.old, named.new))
            good = clean == "survived" and mutated in ("killed", "timeout")
            failures += not good
            old, new = (" ".join(text.split()) for text in (named.old, named.new))
            print(f"| {named.why} | `{named.path}`: `{old}` -> `{new}` | `{test}` | "
                  f"{'passes' if clean == 'survived' else clean} on the code, {mutated} "
                  f"on the mutation |", flush=True)
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
