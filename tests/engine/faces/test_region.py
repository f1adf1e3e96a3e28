import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse_trt.engine.faces import Face, Region, fusion_region, warp_image


def _face(x: float, y: float, w: float, h: float) -> Face:
    landmarks = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h],
                          [x + 0.5 * w, y + 0.6 * h], [x + 0.35 * w, y + 0.8 * h],
                          [x + 0.65 * w, y + 0.8 * h]], np.float32)
    return Face((x, y, w, h), landmarks, 0.9)


@settings(max_examples=200, deadline=None)
@given(height=st.integers(1, 3000), width=st.integers(1, 3000),
       fx=st.floats(-0.3, 1.0), fy=st.floats(-0.3, 1.0), fw=st.floats(0.01, 0.8),
       fh=st.floats(0.01, 0.8), context=st.floats(0.0, 1.5), min_size=st.integers(0, 1500))
def test_region_stays_inside_and_holds_the_face(height, width, fx, fy, fw, fh, context, min_size):
    box = (fx * width, fy * height, max(1.0, fw * width), max(1.0, fh * height))
    region = fusion_region(_face(*box), (height, width), context, min_size)
    assert 0 <= region.x0 < region.x1 <= width and 0 <= region.y0 < region.y1 <= height
    side = max(box[2], box[3]) * (1 + 2 * context)
    wanted = max(side, min_size)
    square = max(min(wanted, height, width), min_size)
    assert region.width >= min(max(square, box[2]), width) - 1
    assert region.height >= min(max(square, box[3]), height) - 1
    if max(box[2], box[3]) <= min(width, height) and min_size <= min(width, height):
        assert region.width == region.height  # square unless the face or min_size is too big
    # the part of the face box inside the image is inside the region
    assert region.x0 <= max(0.0, box[0]) + 1 and region.x1 >= min(width, box[0] + box[2]) - 1
    assert region.y0 <= max(0.0, box[1]) + 1 and region.y1 >= min(height, box[1] + box[3]) - 1


def test_face_at_the_border_shifts_the_region_inwards():
    region = fusion_region(_face(-20.0, 500.0, 100.0, 120.0), (600, 800), context=0.5)
    assert (region.x0, region.y1) == (0, 600)
    assert region.width == region.height == 240


def test_region_clipped_by_a_wide_frame_stays_square():
    """A close-up webcam face: the frame's height cuts the square, and the width follows."""
    region = fusion_region(_face(700.0, 150.0, 480.0, 500.0), (720, 1280), context=0.6)
    assert region.height == region.width == 720
    assert region.x0 <= 700 and region.x1 >= 1180


def test_centred_face_region_is_centred():
    region = fusion_region(_face(400.0, 300.0, 100.0, 100.0), (1000, 1000), context=0.5,
                           min_size=0)
    assert (region.x0, region.y0, region.x1, region.y1) == (350, 250, 550, 450)
    assert fusion_region(_face(400.0, 300.0, 100.0, 100.0), (1000, 1000), 0.5, 512).width == 512


def test_crop_and_landmark_offset(astronaut, astronaut_face):
    region = fusion_region(astronaut_face, astronaut.shape[:2])
    crop = region.crop(astronaut)
    assert crop.shape == (region.height, region.width, 3)
    local = region.offset_landmarks(astronaut_face.landmarks)
    assert local.dtype == np.float32
    for (x, y), (gx, gy) in zip(local.astype(int), astronaut_face.landmarks.astype(int)):
        assert np.array_equal(crop[y, x], astronaut[gy, gx])


def test_shift_matrix_warps_straight_into_the_region(astronaut, grace, astronaut_face):
    region = Region(150, 100, 400, 380)
    matrix = np.array([[0.9, -0.2, 40.0], [0.2, 0.9, 30.0]])
    full = warp_image(astronaut, matrix, grace.shape[:2])
    local = warp_image(astronaut, region.shift_matrix(matrix), (region.height, region.width))
    assert np.abs(local.astype(int) - region.crop(full)).max() <= 1
    assert matrix[0, 2] == 40.0  # the input is not modified


def test_default_context_grows_the_long_side_by_0_6_each_way_by_hand():
    # side = ceil(20 x (1 + 2 x 0.6)) = 44 around the box centre (50, 45): floor(50 - 22) = 28
    region = fusion_region(_face(40.0, 40.0, 20.0, 10.0), (200, 200))
    assert (region.x0, region.y0, region.x1, region.y1) == (28, 23, 72, 67)


def test_a_box_of_no_size_still_gets_one_pixel():
    region = fusion_region(_face(10.0, 10.0, 0.0, 0.0), (100, 100), context=0.6)
    assert (region.x0, region.y0, region.x1, region.y1) == (9, 9, 10, 10)  # floor(10 - 0.5)
