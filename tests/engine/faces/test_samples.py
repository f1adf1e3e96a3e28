import pytest

from fuse_trt.engine.faces import SAMPLE_NAMES, load_sample, sample_path
from fuse_trt.engine.errors import FuseTrtError


def test_every_sample_is_a_bundled_jpeg():
    for name in SAMPLE_NAMES:
        path = sample_path(name)
        assert path.parent.name == "samples" and path.suffix == ".jpg"
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"


def test_samples_load_as_rgb(astronaut, grace):
    assert astronaut.shape == (512, 512, 3) and grace.shape == (600, 512, 3)
    suit = astronaut[400:, 100:300].reshape(-1, 3).mean(axis=0)
    assert suit[0] > suit[2] + 60  # the orange suit: red well above blue, so RGB not BGR
    sky = grace[:100, 420:].reshape(-1, 3).mean(axis=0)
    assert sky[2] > sky[0]  # the blue backdrop


def test_unknown_sample_is_a_user_error():
    with pytest.raises(FuseTrtError, match="astronaut"):
        load_sample("mona_lisa")
