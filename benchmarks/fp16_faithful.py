"""Faithful-FP16 (true float16, build_engine.fp16_reference) vs FP32 ONNX Runtime on the fused
output, per audit sample and tier (square max shapes 512/768/1024).

    python benchmarks/fp16_faithful.py [BUNDLE] [plain]   # plain: converter without FP32 rules
"""
import sys, time, numpy as np, onnx, onnxruntime as ort
from dataclasses import replace
from fuse_trt.build_engine.fp16_onnx import convert_fp16, fp32_rules as rule_fp32_nodes
from fuse_trt.build_engine.fp16_reference import run_float16
from fuse_trt.calibration.range_samples import PhotoRangeSamples
from fuse_trt.engine.bundle import Bundle
from fuse_trt.models import default_bundle_dir
b = Bundle.load(sys.argv[1] if len(sys.argv) > 1 else default_bundle_dir())
fp32 = onnx.load(str(b.artifact_path("onnx", "fp32")))
plain = len(sys.argv) > 2
fp16 = convert_fp16(fp32, {} if plain else rule_fp32_nodes(fp32))
t = replace(b.tiers, tiers=tuple(replace(x, max_shape=(x.short_edge, x.short_edge)) for x in b.tiers))
samples = PhotoRangeSamples()(b.spec, t)
sess = ort.InferenceSession(fp32.SerializeToString(), providers=["CPUExecutionProvider"])
for tier, feeds in samples.items():
    for f in feeds:
        start = time.time()
        ref = sess.run(None, f)[0]
        half = run_float16(fp16, f)["fused"]
        print(tier, "finite", bool(np.isfinite(half).all()), "max abs diff", float(np.nanmax(np.abs(half.astype(np.float32) - ref))), f"{time.time()-start:.1f}s", flush=True)
