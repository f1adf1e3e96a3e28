"""One loader for the packaged photos; a missing matplotlib copy falls back to fuse-trt's own."""
import numpy as np
import pytest

from fuse_trt.engine import photos
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.faces import load_sample


def test_every_named_photo_is_rgb_uint8():
    for name in ("camera", "china", "motorcycle", "grace_hopper"):
        image = photos.load_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    grey = photos.load_photo("camera")
    assert np.array_equal(grey[:, :, 0], grey[:, :, 2])


def test_a_missing_matplotlib_photo_falls_back_to_the_packaged_sample(tmp_path, monkeypatch):
    import matplotlib

    monkeypatch.setattr(matplotlib, "get_data_path", lambda: str(tmp_path))
    np.testing.assert_array_equal(photos.load_photo("grace_hopper"), load_sample("grace_hopper"))


def test_an_unknown_photo_is_a_user_error():
    with pytest.raises(FuseTrtError, match="unknown photo 'mona_lisa'"):
        photos.load_photo("mona_lisa")
