"""Reading images: 16-bit scaled by value (not cut to the low byte), channel order, alpha."""
import cv2
import numpy as np
import pytest

from fuse_trt.engine.errors import InputImageError
from fuse_trt.engine.images import read_image, write_image

# value = high * 257 + offset, offset < 128 and != high: the low byte differs from the high
# byte and from the expected 8-bit value, and value / 257 is never near .5
HIGH = np.array([18, 200, 0, 255, 97, 1], np.uint16)
OFFSET = np.array([34, 3, 100, 0, 120, 60], np.uint16)
DEEP = HIGH * 257 + OFFSET


def test_16_bit_grey_is_scaled_by_value(tmp_path):
    path = tmp_path / "deep.png"
    grey = np.tile(DEEP, (4, 1))
    assert cv2.imwrite(str(path), grey)
    rgb = read_image(path).rgb
    expected = np.rint(grey.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)
    assert np.array_equal(expected[0], HIGH.astype(np.uint8))  # the hand-computed values
    assert not np.array_equal(expected, (grey & 0xFF).astype(np.uint8))  # low byte differs
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], expected)


def test_16_bit_colour_keeps_channels_in_rgb_order(tmp_path):
    path = tmp_path / "deep-colour.png"
    red, green, blue = DEEP[0], DEEP[1], DEEP[2]
    bgr = np.empty((3, 5, 3), np.uint16)
    bgr[...] = (blue, green, red)
    assert cv2.imwrite(str(path), bgr)
    rgb = read_image(path).rgb
    assert rgb.dtype == np.uint8
    assert np.all(rgb == (HIGH[0], HIGH[1], HIGH[2]))


def test_rgba_keeps_alpha_and_round_trips(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (6, 7, 3), np.uint8)
    alpha = np.arange(42, dtype=np.uint8).reshape(6, 7) * 6
    write_image(tmp_path / "a.png", rgb, alpha)
    loaded = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(loaded.rgb, rgb)
    np.testing.assert_array_equal(loaded.alpha, alpha)


def test_float_images_are_scaled_from_unit_range(tmp_path):
    from fuse_trt.engine.images import _to_uint8

    values = np.array([[0.0, 0.5, 1.0, 1.5, -0.2]], np.float32)
    np.testing.assert_array_equal(_to_uint8(values), [[0, 128, 255, 255, 0]])


def test_the_pixel_cap_is_checked_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    assert cv2.imwrite(str(path), np.zeros((20, 30, 3), np.uint8))
    assert read_image(path, max_pixels=600).rgb.shape == (20, 30, 3)
    with pytest.raises(InputImageError, match="20x30|30x20"):
        read_image(path, max_pixels=599)


def test_corrupt_data_and_tiny_images(tmp_path):
    header_only = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()[:60]
    (tmp_path / "cut.png").write_bytes(header_only)
    with pytest.raises(InputImageError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.png")
    assert cv2.imwrite(str(tmp_path / "one.png"), np.full((1, 1), 9, np.uint8))
    np.testing.assert_array_equal(read_image(tmp_path / "one.png").rgb, [[[9, 9, 9]]])
    assert write_image(tmp_path / "w.png", np.zeros((2, 2, 3), np.uint8)) == tmp_path / "w.png"


# EXIF orientations as the standard defines them, by NumPy's rot90/transpose (a second
# implementation): 2 mirrored left-right, 3 turned 180, 4 mirrored top-bottom, 5 transposed,
# 6 turned 90 clockwise, 7 transposed and turned 180, 8 turned 90 anticlockwise.
SHOWN = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: np.rot90(a, 2),
         4: lambda a: a[::-1], 5: lambda a: np.swapaxes(a, 0, 1),
         6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),
         8: lambda a: np.rot90(a, 1)}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_is_shown_upright(orientation):
    from fuse_trt.engine.images import apply_orientation

    stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    shown = apply_orientation(stored, orientation)
    np.testing.assert_array_equal(shown, SHOWN[orientation](stored))
    assert shown.flags.c_contiguous


def test_the_orientation_tag_is_read_from_the_file_and_bad_values_mean_as_stored(tmp_path):
    from PIL import Image

    from fuse_trt.engine.images import _orientation

    stored = np.zeros((20, 30, 3), np.uint8)
    stored[:10, :15] = (250, 20, 20)  # a red block at the top left, as stored
    for tag, expected in ((6, SHOWN[6](stored)), (9, stored), (0, stored), (None, stored)):
        image = Image.fromarray(stored)
        exif = image.getexif()
        if tag is not None:
            exif[0x0112] = tag
        path = tmp_path / f"o{tag}.png"
        image.save(path, exif=exif)
        rgb = read_image(path).rgb
        assert rgb.shape == expected.shape, tag
        assert np.array_equal(rgb, expected), tag

    class Unreadable:
        def getexif(self):
            raise SyntaxError("broken EXIF block")

    assert _orientation(Unreadable()) == 1


def test_the_default_pixel_cap_is_64_million(tmp_path):
    import dataclasses

    from PIL import Image

    from fuse_trt.engine.images import LoadedImage

    path = tmp_path / "huge.png"
    Image.new("1", (8000, 8001)).save(path)  # 1-bit: a small file for 64,008,000 pixels
    with pytest.raises(InputImageError, match="8000x8001 is over the 64,000,000-pixel cap"):
        read_image(path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        LoadedImage(np.zeros((1, 1, 3), np.uint8)).alpha = None


def test_missing_empty_and_one_byte_files_say_which(tmp_path):
    with pytest.raises(InputImageError, match="nope.png: file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InputImageError, match="is a directory"):
        read_image(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputImageError, match="empty.png: file is empty"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "one.png").write_bytes(b"x")
    with pytest.raises(InputImageError, match="one.png: not a readable image"):
        read_image(tmp_path / "one.png")


def test_an_unknown_output_type_is_a_one_line_error(tmp_path):
    from fuse_trt.engine.errors import FuseTrtError

    for name, shown in (("out.xyz", "'.xyz'"), ("out", r"'\(no extension\)'")):
        with pytest.raises(FuseTrtError, match=f"cannot write images of type {shown}"):
            write_image(tmp_path / name, np.zeros((2, 2, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind
