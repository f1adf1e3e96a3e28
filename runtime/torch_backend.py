"""The plain PyTorch path the benchmark compares against, with the seed's optimizations
(eval mode, inference mode, FP16 on a GPU) so the comparison is fair."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fuse_trt.engine.choices import Precision
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import BackendUnavailableError
from fuse_trt.runtime.protocol import Backend, BackendMemory


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model_factory: Callable[[], object], spec: ModelSpec, tiers: TierTable,
                 precision: str = "fp32", device: str = "cpu"):
        super().__init__(spec, tiers, precision)
        self.model_factory = model_factory
        self.device = device
        self._model = None

    def _activate_impl(self) -> None:
        try:
            import torch
        except ImportError as error:
            raise BackendUnavailableError(
                "the torch backend needs PyTorch: pip install 'fuse-trt[export]'") from error
        model = self.model_factory().eval().to(self.device)
        if self.precision == Precision.FP16:
            if self.device == "cpu":
                raise BackendUnavailableError("the torch backend runs fp16 only on a CUDA device")
            model = model.half()
        self._dtype = torch.float16 if self.precision == Precision.FP16 else torch.float32
        self._model = model

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            inputs = [torch.from_numpy(feed[name]).to(self.device, self._dtype)
                      for name in self.spec.input_names]
            outputs = self._model(*inputs)
            outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
            return {name: output.float().cpu().numpy()
                    for name, output in zip(self.spec.output_names, outputs)}

    def _memory_impl(self) -> BackendMemory:
        weights = sum(p.numel() * p.element_size() for p in self._model.parameters())
        return BackendMemory(weights_bytes=weights)

    def _close_impl(self) -> None:
        self._model = None
