"""Calibration holds about one plain inference's activations, not every activation at once.

Measured in a subprocess (peak RSS reset through /proc/self/clear_refs before each step) on a
generated chain of convolutions whose every activation is 8 MiB: the range collection must
stay within a few activations of the plain model's own peak, where collecting every reduction
after the whole network (ORT's default node order) holds all 32 of them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS, SIDE, CONVS = 8, 512, 16
ACTIVATION_MIB = CHANNELS * SIDE * SIDE * 4 / 2**20  # 8 MiB


def _conv_chain_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "x"
    for index in range(CONVS):
        weight = numpy_helper.from_array(
            rng.normal(0, 0.2, (CHANNELS, CHANNELS, 3, 3)).astype(np.float32), f"w{index}")
        weights.append(weight)
        nodes += [helper.make_node("Conv", [previous, weight.name], [f"c{index}"],
                                   name=f"conv{index}", pads=[1] * 4),
                  helper.make_node("Relu", [f"c{index}"], [f"r{index}"], name=f"relu{index}")]
        previous = f"r{index}"
    shape = [1, CHANNELS, SIDE, SIDE]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", 1, shape)],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)],
                              weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


_MEASURE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from fuse_trt.calibration.dataset import CalibrationSample
    from fuse_trt.calibration.quantize import QuantizeConfig, bounded_session, collect_ranges

    def peak_growth(step):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # peak RSS := current RSS
        start = rss("VmRSS")
        step()
        return (rss("VmHWM") - start) / 1024

    def rss(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field))

    model, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    x = np.random.default_rng(0).random((1, 8, 512, 512), dtype=np.float32)
    sample = CalibrationSample("chain", "512", {"x": x})
    session = bounded_session(model)
    session.run(None, {"x": x})  # warm: kernels and their buffers exist
    plain = peak_growth(lambda: session.run(None, {"x": x}))
    config = QuantizeConfig(op_types=("Conv", "Relu"))
    ranges = peak_growth(lambda: collect_ranges(model, scratch / "r.json", [sample], ["x"], config))
    print(json.dumps({"plain_mib": plain, "ranges_mib": ranges}))
""")


def test_range_collection_peaks_near_one_plain_inference(tmp_path):
    model = tmp_path / "chain.onnx"
    onnx.save(_conv_chain_model(), str(model))
    # a fixed mmap threshold: every freed activation goes back to the system at once, so RSS
    # follows what is live (glibc otherwise keeps freed blocks and hides the second peak)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(model), str(tmp_path)],
                            capture_output=True, text=True, check=True, env=env)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    every_activation = 2 * CONVS * ACTIVATION_MIB
    assert measured["plain_mib"] < every_activation / 4, measured
    # the sample's feed copy and the calibrator's own model beyond the plain peak, no more
    assert measured["ranges_mib"] < measured["plain_mib"] + 3 * ACTIVATION_MIB, measured
