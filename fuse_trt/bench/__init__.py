"""Benchmark mode: latency and memory per tier against the plain PyTorch path.

``run_benchmark(BenchConfig(...))`` returns the report (a JSON-ready dict); ``report`` writes
it as JSON, Markdown and PNG. Heavy imports (torch, matplotlib) stay inside functions.
"""
from fuse_trt.bench.runner import BenchConfig, run_benchmark
from fuse_trt.bench.timing import TimingConfig

__all__ = ["BenchConfig", "TimingConfig", "run_benchmark"]
