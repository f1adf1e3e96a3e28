"""Benchmark mode: latency and memory per tier against the plain PyTorch path."""
