"""The default fusion model: a UNet that refines the classical composite (PyTorch).

Imported only where a model is built, trained or run in PyTorch; ``fuse_trt.engine`` does not
import it. Inputs follow :data:`fuse_trt.engine.spec.FUSION_SPEC`: the colour-matched
composite, the soft face mask and the context (target with the dilated mask zeroed), all
[N, C, H, W] in 0..1. The output is the refined composite.

Two heads:

* a colour head predicts, per image, a 3x3 colour matrix, a bias, a per-channel tone curve
  (gamma), an additive ramp and a multiplicative shading ramp across the face, applied to the
  composite inside the mask. It reads only statistics measured in the face's own whitened
  frame (so they do not depend on the tier's resolution): per direction, the colour just
  inside the face edge, the seam mismatch across the feather band, and the context outside
  the hole. It can correct colour and light but cannot invent texture, so it keeps the
  source identity.
* a seam head reads the encoder-decoder's features and predicts a free-form residual that is
  applied only in the feather band of the mask, where blending towards the target is the
  point.

The last layer of both heads starts at zero, so an untrained network returns the composite.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC, ModelSpec

COLOUR_PARAMS = 9 + 3 + 3 + 6 + 6  # matrix, bias, log-gamma, additive ramp, log-shading ramp
_EPS = 1e-6
_TINY = 1e-7  # guards means of an empty weight (0 / _TINY = 0); the smallest float16 constant
_LOG_FLOOR = 0.02
_COORD_LIMIT = 4.0  # whitened face coordinates are clamped here (the face edge is near 2)


@dataclass(frozen=True)
class UNetConfig:
    base_width: int = 16
    depth: int = 4
    colour_hidden: int = 128
    sectors: int = 8  # directions around the face in which the colour head compares the seam
    identity_channels: int = 0  # > 0: a second, static input [N, identity_channels]

    @property
    def stride(self) -> int:
        return 2 ** self.depth

    @property
    def colour_features(self) -> int:
        return 12 * self.sectors + 12

    def spec(self) -> ModelSpec:
        base = IDENTITY_FUSION_SPEC if self.identity_channels else FUSION_SPEC
        return ModelSpec(name=base.name, inputs=base.inputs, outputs=base.outputs,
                         stride=self.stride, description=base.description)


DEFAULT_UNET_CONFIG = UNetConfig()
# The default with half the trunk's channels (a quarter of its conv FLOPs); the colour head is
# unchanged. Not shipped: benchmarks/model_width/README.md measures what it trades.
NARROW_UNET_CONFIG = UNetConfig(base_width=8)
TINY_UNET_CONFIG = UNetConfig(base_width=4, depth=2, colour_hidden=8, sectors=4)
TINY_IDENTITY_UNET_CONFIG = UNetConfig(base_width=4, depth=2, colour_hidden=8, sectors=4,
                                       identity_channels=128)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def _weighted_mean(image: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] x [N, 1, H, W] -> [N, C]: a ratio of means, never of sums over the image,
    so no intermediate exceeds max |image * weight| whatever the size (it fits float16)."""
    return (image * weight).mean(dim=(2, 3)) / weight.mean(dim=(2, 3)).clamp_min(_TINY)


def _expand(values: torch.Tensor) -> torch.Tensor:
    return values[:, :, None, None]


def face_frame(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates whitened by the mask's own centre and second moments: [N, 1, H, W] each.

    The face ellipse becomes a circle of radius about 2 whatever its size, position and roll,
    so everything the colour head measures and predicts is independent of the tier's scale.
    Positions are in units of the long side (0..1, a 1 px^2 regulariser becomes unit^2) and
    the covariance is divided by its trace before its root is taken, so every intermediate is
    of order one in float16 at any size; whitening is scale-free, so ``a`` and ``b`` are
    those of raw pixel coordinates.
    """
    ones = torch.ones_like(mask)  # coordinates from cumsum keep H and W dynamic in ONNX
    long_side = torch.maximum(ones[:, :, :1].sum(dim=3, keepdim=True),
                              ones[:, :, :, :1].sum(dim=2, keepdim=True))  # [N, 1, 1, 1]
    unit = 1.0 / long_side
    dx = torch.cumsum(ones * unit, dim=3)
    dy = torch.cumsum(ones * unit, dim=2)
    dx = dx - _expand(_weighted_mean(dx, mask))
    dy = dy - _expand(_weighted_mean(dy, mask))
    sxx = _expand(_weighted_mean(dx * dx, mask)) + unit * unit
    syy = _expand(_weighted_mean(dy * dy, mask)) + unit * unit
    sxy = _expand(_weighted_mean(dx * dy, mask))
    trace = sxx + syy
    nxx, nyy, nxy = sxx / trace, syy / trace, sxy / trace
    root_det = torch.sqrt((nxx * nyy - nxy * nxy).clamp_min(_EPS))
    # Inverse of the symmetric square root of [[sxx, sxy], [sxy, syy]], in closed form.
    scale = 1.0 / (torch.sqrt(trace) * root_det * torch.sqrt(1.0 + 2.0 * root_det))
    a = ((nyy + root_det) * dx - nxy * dy) * scale
    b = ((nxx + root_det) * dy - nxy * dx) * scale
    return a.clamp(-_COORD_LIMIT, _COORD_LIMIT), b.clamp(-_COORD_LIMIT, _COORD_LIMIT)


def _sector_means(images: list[torch.Tensor], weight: torch.Tensor,
                  sectors: torch.Tensor) -> list[torch.Tensor]:
    """Mean of each image under ``weight`` in each direction: [N, C * K] each, channel-major.

    One matrix product per weight for all the images (stacked along channels, with a channel
    of ones for the weights' own means) and all K sectors, instead of K products and means per
    image. The weight is scaled by 1 / W first, so the product's sums over H x W stay below
    H x max |image * weight| (float16 holds them at any tier); their ratios are the means."""
    ones = torch.ones_like(weight)  # 1 / W as a tensor keeps W dynamic in ONNX
    inverse_width = 1.0 / ones[:, :, :1].sum(dim=3, keepdim=True)  # [N, 1, 1, 1]
    weights = weight * inverse_width * sectors  # [N, K, H, W]
    stack = torch.cat([*images, ones], dim=1)
    sums = torch.matmul(stack.flatten(2), weights.flatten(2).transpose(1, 2))  # [N, C + 1, K]
    means = sums[:, :-1] / sums[:, -1:].clamp_min(_TINY)
    return [part.flatten(1) for part in means.split([image.shape[1] for image in images], 1)]


def _std(image: torch.Tensor, weight: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(_weighted_mean((image - _expand(mean)) ** 2, weight) + _EPS)


def _seam_mismatch(mean_c: torch.Tensor, mean_m: torch.Tensor, mean_mc: torch.Tensor,
                   mean_mm: torch.Tensor) -> torch.Tensor:
    """Per direction, the slope of the composite against the mask across the feather band,
    from the band means of composite, mask, their product and the mask squared.

    There ``composite = target + mask * (face - target)``, so the slope estimates how far the
    pasted face's colour is from the target's at the seam (what Poisson blending corrects).
    """
    # Means are [N, C * K] channel-major; the mask's K values repeat for the three channels.
    var_m = (mean_mm - mean_m * mean_m).repeat(1, 3)
    return (mean_mc - mean_m.repeat(1, 3) * mean_c) / (var_m + 1e-3)


def _sectors(a: torch.Tensor, b: torch.Tensor, count: int) -> torch.Tensor:
    """[N, count, H, W]: per direction t_k, relu(cos(angle - t_k))^2 of each pixel's angle in
    the face frame, every direction in one broadcast instead of a small graph each."""
    angles = torch.arange(count, dtype=a.dtype, device=a.device) * (2.0 * math.pi / count)
    cos, sin = torch.cos(angles)[None, :, None, None], torch.sin(angles)[None, :, None, None]
    along = functional.relu(a * cos + b * sin)
    return along * along / (a * a + b * b + _EPS)


def colour_features(composite: torch.Tensor, mask: torch.Tensor, context: torch.Tensor,
                    a: torch.Tensor, b: torch.Tensor, count: int) -> torch.Tensor:
    """What the colour head sees, per direction around the face: the colour just inside the
    face edge, the seam mismatch, and log ratios of the feather band and of a ring of context
    outside the hole to the inside; plus mean and spread of the face and of the ring."""
    radius = torch.sqrt(a * a + b * b + _EPS)
    sectors = _sectors(a, b, count)
    valid = (context.sum(dim=1, keepdim=True) * 100.0).clamp(0.0, 1.0)
    rim = mask ** 4 * ((radius - 1.2) * 2.0).clamp(0.0, 1.0)
    band = 4.0 * mask * (1.0 - mask)
    ring = valid * (1.0 - mask) * (1.0 - (radius - 3.2).abs() / 1.2).clamp(0.0, 1.0)
    (rim_colour,) = _sector_means([composite], rim, sectors)
    band_colour, band_mask, band_product, band_mask_squared = _sector_means(
        [composite, mask, composite * mask, mask * mask], band, sectors)
    (ring_colour,) = _sector_means([context], ring, sectors)
    rim_log = torch.log(rim_colour + _LOG_FLOOR)
    core_mean, ring_mean = _weighted_mean(composite, mask), _weighted_mean(context, ring)
    # Log ratios: a shading ramp across the face shows up linearly in them.
    return torch.cat([rim_log, torch.log(band_colour + _LOG_FLOOR) - rim_log,
                      torch.log(ring_colour + _LOG_FLOOR) - rim_log,
                      _seam_mismatch(band_colour, band_mask, band_product, band_mask_squared),
                      core_mean, _std(composite, mask, core_mean),
                      ring_mean, _std(context, ring, ring_mean)], dim=1)


def apply_colour(image: torch.Tensor, params: torch.Tensor, a: torch.Tensor,
                 b: torch.Tensor) -> torch.Tensor:
    """Tone curve, 3x3 colour matrix, shading and additive ramps in face coordinates, bias."""
    batch = params.shape[0]
    matrix = params[:, :9].reshape(batch, 3, 3) + torch.eye(3, dtype=params.dtype)
    bias, gamma = _expand(params[:, 9:12]), torch.exp(_expand(params[:, 12:15]))
    ramp = _expand(params[:, 15:18]) * a + _expand(params[:, 18:21]) * b
    shading = torch.exp((_expand(params[:, 21:24]) * a + _expand(params[:, 24:27]) * b)
                        .clamp(-2.0, 2.0))
    toned = torch.exp(gamma * torch.log(image.clamp(1e-4, 1.0)))  # x ** gamma, vectorised
    mixed = torch.einsum("bij,bjhw->bihw", matrix, toned)
    return mixed * shading + ramp + bias


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
            nn.Linear(config.colour_features, config.colour_hidden), nn.ReLU(inplace=True),
            nn.Linear(config.colour_hidden, config.colour_hidden), nn.ReLU(inplace=True),
            nn.Linear(config.colour_hidden, COLOUR_PARAMS))
        self.seam_head = nn.Conv2d(widths[0], 3, 3, padding=1)
        for layer in (self.colour_head[-1], self.seam_head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, composite: torch.Tensor, mask: torch.Tensor, context: torch.Tensor,
                identity: torch.Tensor | None = None) -> torch.Tensor:
        # The colour head first: its full-resolution temporaries are then freed before the
        # encoder-decoder runs, instead of living through the decoder's peak (memory plan).
        corrected = self.colour_corrected(composite, mask, context)
        seam = 4.0 * mask * (1.0 - mask) * self.seam_head(
            self.trunk(composite, mask, context, identity))
        return (corrected + seam).clamp(0.0, 1.0)

    def colour_corrected(self, composite: torch.Tensor, mask: torch.Tensor,
                         context: torch.Tensor) -> torch.Tensor:
        """The composite with the colour head's correction applied inside the mask."""
        a, b = face_frame(mask)
        features = colour_features(composite, mask, context, a, b, self.config.sectors)
        corrected = apply_colour(composite, self.colour_head(features), a, b)
        return composite + mask * (corrected - composite)

    def trunk(self, composite: torch.Tensor, mask: torch.Tensor, context: torch.Tensor,
              identity: torch.Tensor | None = None) -> torch.Tensor:
        """Full-resolution features of the encoder-decoder (what the seam head reads)."""
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
        for decoder, skip in zip(self.decoders, reversed(skips)):
            features = functional.interpolate(features, scale_factor=2.0, mode="nearest")
            features = decoder(torch.cat([features, skip], dim=1))
        return features


def load_fusion_unet(config: UNetConfig, weights_path=None) -> FusionUNet:
    """A FusionUNet with weights from a safetensors file (never pickle); None: initial weights."""
    model = FusionUNet(config)
    if weights_path is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(weights_path)), strict=True)
    return model.eval()


def save_fusion_unet(model: FusionUNet, path, metadata: dict[str, str] | None = None) -> None:
    """The weights as safetensors, written atomically (engine/files.py)."""
    from safetensors.torch import save

    from fuse_trt.engine.files import write_bytes_atomic

    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    write_bytes_atomic(path, save(state, metadata=metadata or {}))
