"""The default fusion model: a UNet that refines the classical composite (PyTorch).

Imported only where a model is built, trained or run in PyTorch; ``fuse_trt.engine`` does not
import it. Inputs follow :data:`fuse_trt.engine.spec.FUSION_SPEC`: the colour-matched
composite, the soft face mask and the context (target with the dilated mask zeroed), all
[N, C, H, W] in 0..1. The output is the refined composite.

Two heads share one encoder-decoder:

* a colour head predicts, per image, a 3x3 colour matrix, a bias, a per-channel gamma and a
  per-channel linear illumination ramp, applied to the composite inside the mask. It can
  correct colour and light but cannot invent texture, so it keeps the source identity.
* a seam head predicts a free-form residual that is applied only in the feather band of the
  mask, where blending towards the target is the point.

The last layer of both heads starts at zero, so an untrained network returns the composite.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC, ModelSpec

COLOUR_PARAMS = 9 + 3 + 3 + 6  # matrix, bias, gamma, ramp (x and y per channel)


@dataclass(frozen=True)
class UNetConfig:
    base_width: int = 16
    depth: int = 4
    colour_hidden: int = 64
    identity_channels: int = 0  # > 0: a second, static input [N, identity_channels]

    @property
    def stride(self) -> int:
        return 2 ** self.depth

    def spec(self) -> ModelSpec:
        base = IDENTITY_FUSION_SPEC if self.identity_channels else FUSION_SPEC
        return ModelSpec(name=base.name, inputs=base.inputs, outputs=base.outputs,
                         stride=self.stride, description=base.description)


DEFAULT_UNET_CONFIG = UNetConfig()
TINY_UNET_CONFIG = UNetConfig(base_width=4, depth=2, colour_hidden=8)
TINY_IDENTITY_UNET_CONFIG = UNetConfig(base_width=4, depth=2, colour_hidden=8,
                                       identity_channels=128)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def _masked_mean(image: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (image * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + 1e-6)


class FusionUNet(nn.Module):
    def __init__(self, config: UNetConfig = DEFAULT_UNET_CONFIG):
        super().__init__()
        self.config = config
        widths = [config.base_width * 2 ** level for level in range(config.depth + 1)]
        self.encoders = nn.ModuleList()
        in_channels = 7
        for width in widths[:-1]:
            self.encoders.append(_conv_block(in_channels, width))
            in_channels = width
        self.bottleneck = _conv_block(widths[-2], widths[-1])
        self.decoders = nn.ModuleList(
            _conv_block(widths[level + 1] + widths[level], widths[level])
            for level in reversed(range(config.depth)))
        self.identity_film = (nn.Linear(config.identity_channels, 2 * widths[-1])
                              if config.identity_channels else None)
        self.colour_head = nn.Sequential(
            nn.Linear(widths[-1] + 9, config.colour_hidden), nn.ReLU(inplace=True),
            nn.Linear(config.colour_hidden, COLOUR_PARAMS))
        self.seam_head = nn.Conv2d(widths[0], 3, 3, padding=1)
        for layer in (self.colour_head[-1], self.seam_head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, composite: torch.Tensor, mask: torch.Tensor, context: torch.Tensor,
                identity: torch.Tensor | None = None) -> torch.Tensor:
        features = torch.cat([composite, mask, context], dim=1)
        skips = []
        for encoder in self.encoders:
            features = encoder(features)
            skips.append(features)
            features = functional.max_pool2d(features, 2)
        features = self.bottleneck(features)
        if self.identity_film is not None:
            scale, shift = self.identity_film(identity)[:, :, None, None].chunk(2, dim=1)
            features = features * (1 + scale) + shift
        pooled = features.mean(dim=(2, 3))
        for decoder, skip in zip(self.decoders, reversed(skips)):
            features = functional.interpolate(features, scale_factor=2.0, mode="nearest")
            features = decoder(torch.cat([features, skip], dim=1))
        stats = torch.cat([_masked_mean(composite, mask), _masked_mean(context, 1 - mask),
                           _masked_mean(composite * composite, mask)], dim=1)
        corrected = self._apply_colour(composite, self.colour_head(torch.cat([pooled, stats], 1)))
        seam_weight = 4.0 * mask * (1.0 - mask)
        fused = composite + mask * (corrected - composite) + seam_weight * self.seam_head(features)
        return fused.clamp(0.0, 1.0)

    @staticmethod
    def _apply_colour(image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        batch = params.shape[0]
        matrix = params[:, :9].reshape(batch, 3, 3) + torch.eye(3, dtype=params.dtype)
        bias = params[:, 9:12][:, :, None, None]
        gamma = torch.exp(params[:, 12:15])[:, :, None, None]
        ramp_x = params[:, 15:18][:, :, None, None]
        ramp_y = params[:, 18:21][:, :, None, None]
        ones = torch.ones_like(image[:, :1])
        # Normalised coordinates in -0.5..0.5, computed from the tensor so H and W stay dynamic.
        grid_y = torch.cumsum(ones, dim=2) / ones.sum(dim=2, keepdim=True) - 0.5
        grid_x = torch.cumsum(ones, dim=3) / ones.sum(dim=3, keepdim=True) - 0.5
        toned = image.clamp(1e-4, 1.0) ** gamma
        mixed = torch.einsum("bij,bjhw->bihw", matrix, toned)
        return mixed + bias + ramp_x * grid_x + ramp_y * grid_y


def load_fusion_unet(config: UNetConfig, weights_path=None) -> FusionUNet:
    """A FusionUNet with weights from a safetensors file (never pickle); None: initial weights."""
    model = FusionUNet(config)
    if weights_path is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(weights_path)), strict=True)
    return model.eval()


def save_fusion_unet(model: FusionUNet, path, metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata or {})
