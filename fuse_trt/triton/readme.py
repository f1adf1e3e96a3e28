"""The README written into an exported Triton model repository."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fuse_trt.engine.bundle import Bundle
from fuse_trt.triton.configs import TRITON_DTYPES, tensor_dims

if TYPE_CHECKING:
    from fuse_trt.triton.export import TritonModel


def _tensor_rows(bundle: Bundle) -> list[str]:
    rows = []
    for role, tensors in (("input", bundle.spec.inputs), ("output", bundle.spec.outputs)):
        for tensor in tensors:
            dims = ", ".join(map(str, ["N", *tensor_dims(tensor)]))
            rows.append(f"| {role} | `{tensor.name}` | [{dims}] | {TRITON_DTYPES[tensor.dtype]} |")
    return rows


def _tier_rows(bundle: Bundle) -> list[str]:
    return [f"| {tier.name} | {tier.min_shape[0]}x{tier.min_shape[1]} .. "
            f"{tier.max_shape[0]}x{tier.max_shape[1]} | {tier.max_batch} |"
            for tier in bundle.tiers]


def repository_readme(bundle: Bundle, models: list[TritonModel]) -> str:
    model_rows = [f"| `{m.name}` | {m.engine} | {m.precision} | {m.tier} |" for m in models]
    return "\n".join([
        f"# Triton model repository for `{bundle.spec.name}`",
        "",
        f"Exported by `fuse-trt export-triton` from `{bundle.directory}`. One model per",
        "engine, precision and resolution tier; a request goes to the model of the tier that",
        "fuse-trt's tier planner picked for the image (`fuse_trt.engine.tiers`).",
        "",
        "| model | engine | precision | tier |", "| --- | --- | --- | --- |", *model_rows,
        "",
        "## Start the server",
        "",
        "```",
        "tritonserver --model-repository REPO --http-address 127.0.0.1 --grpc-address 127.0.0.1",
        "```",
        "",
        "- `fusion_trt_*` models need Triton's TensorRT backend, a GPU, and the TensorRT",
        "  version and GPU the plan was built for (see the plan's sidecar JSON in the bundle).",
        "  Plans are trusted input only: they can carry host code.",
        "- `fusion_onnx_*` models run on the CPU through Triton's Python backend. Its stub",
        "  process imports numpy, onnxruntime and fuse-trt: start `tritonserver` with the `bin`",
        "  directory of the Python environment that has fuse-trt first on `PATH`, so the stub",
        "  finds that environment (it does not read `PYTHONPATH`), and use the stub built for",
        "  that Python version in the backend directory.",
        "",
        "## What to send",
        "",
        "KServe v2 inference requests (HTTP or gRPC). Every tensor is NCHW; H and W must lie",
        "inside the tier's range and be multiples of the model stride "
        f"({bundle.tiers.stride}); N is at most the tier's max batch.",
        "",
        "| role | tensor | dims | type |", "| --- | --- | --- | --- |", *_tensor_rows(bundle),
        "",
        "| tier | H x W | max batch |", "| --- | --- | --- |", *_tier_rows(bundle),
        "",
        "From Python, fuse-trt does the planning and sends the feeds itself:",
        "",
        "```",
        "fuse-trt fuse SOURCE TARGET -o OUT --blend unet --backend triton --url 127.0.0.1:8000",
        "```",
        "",
    ])
