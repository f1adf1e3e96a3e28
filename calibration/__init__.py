"""INT8: calibration images, ONNX Runtime static QDQ, the accuracy gate, TensorRT calibration.

Kept light on purpose: nothing is imported here. Modules, in data-flow order:
``images`` / ``samples`` / ``dataset`` / ``cache`` (the calibration and held-out sets),
``quantize`` (ONNX Runtime QDQ), ``gate`` (INT8 vs FP32), ``ort_int8`` (CPU INT8 into the
bundle), ``qdq`` (symmetric Q/DQ ONNX for TensorRT 11.x / strongly typed 10.x),
``tensorrt_calibrator`` (entropy calibrator for 8.6 / 10.x) and ``tensorrt_int8`` (which of
the two a TensorRT build gets), ``options`` (Int8Options: what `fuse-trt build --precision int8` is told).
"""
