"""The ``model.py`` of the exported CPU models: Triton's Python backend running one tier of
the bundle's ONNX through fuse-trt's ONNX Runtime backend (same feed checks, same buffers).

The exporter copies this file into each model's version directory. Triton runs it in its
Python stub, which needs numpy, onnxruntime and fuse-trt importable: start the server with
the environment's ``bin`` first on PATH (see the repository README).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

ENGINE_FILE = "engine.json"


def load_backend(version_dir: Path):
    """An activated single-tier ONNX Runtime backend from ``engine.json`` in ``version_dir``."""
    from fuse_trt.engine.spec import ModelSpec
    from fuse_trt.engine.tiers import TierTable
    from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

    engine = json.loads((version_dir / ENGINE_FILE).read_text())
    tiers = TierTable.from_json(engine["tiers"])
    backend = OnnxRuntimeBackend(version_dir / engine["onnx"], ModelSpec.from_json(engine["spec"]),
                                 tiers, engine["precision"])
    return backend.activate()


def group_by_shape(feeds: list[dict]) -> dict[tuple, list[int]]:
    """Indices of the feeds whose inputs share shapes (apart from the batch axis)."""
    groups = defaultdict(list)
    for index, feed in enumerate(feeds):
        key = tuple((name, array.shape[1:]) for name, array in sorted(feed.items()))
        groups[key].append(index)
    return groups


def chunks(sizes: list[int], members: list[int], max_batch: int):
    """Consecutive runs of ``members`` whose batch sizes add up to at most ``max_batch``."""
    chunk, total = [], 0
    for index in members:
        if chunk and total + sizes[index] > max_batch:
            yield chunk
            chunk, total = [], 0
        chunk.append(index)
        total += sizes[index]
    if chunk:
        yield chunk


def run_batched(backend, feeds: list[dict]) -> list[dict]:
    """Results for every feed; feeds of one shape run together, up to the tier's max batch."""
    import numpy as np

    tier = backend.tiers.tiers[0]
    first = backend.spec.input_names[0]
    sizes = [feed[first].shape[0] for feed in feeds]
    results: list[dict] = [{} for _ in feeds]
    for members in group_by_shape(feeds).values():
        for chunk in chunks(sizes, members, tier.max_batch):
            joined = {name: np.concatenate([feeds[i][name] for i in chunk])
                      for name in backend.spec.input_names}
            outputs = backend.infer(tier, joined)
            offsets = np.cumsum([0, *(sizes[i] for i in chunk)])
            for i, start, stop in zip(chunk, offsets[:-1], offsets[1:]):
                results[i] = {name: array[start:stop] for name, array in outputs.items()}
    return results


class TritonPythonModel:
    """The class Triton's Python backend loads."""

    def initialize(self, args: dict) -> None:
        self.backend = load_backend(Path(args["model_repository"]) / args["model_version"])

    def execute(self, requests: list) -> list:
        import numpy as np
        import triton_python_backend_utils as pb_utils

        # DLPack both ways: the stub's as_numpy()/Tensor(numpy) are built for numpy 1 and
        # give empty outputs under numpy 2; DLPack works with either.
        feeds = [{name: np.from_dlpack(pb_utils.get_input_tensor_by_name(request, name))
                  for name in self.backend.spec.input_names} for request in requests]
        try:
            results = run_batched(self.backend, feeds)
        except Exception as error:  # reported to every client of the batch, then served on
            message = pb_utils.TritonError(f"{type(error).__name__}: {error}")
            return [pb_utils.InferenceResponse(error=message) for _ in requests]
        return [pb_utils.InferenceResponse(
            [pb_utils.Tensor.from_dlpack(name, np.ascontiguousarray(array))
             for name, array in result.items()])
            for result in results]

    def finalize(self) -> None:
        self.backend.close()
