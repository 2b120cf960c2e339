"""Boxes that reach past the picture's edges are clipped to it, on pictures wider than tall and taller
than wide (a clamp that confuses width and height shows on either). The expected boxes are worked out
by hand: a 64x128 picture letterboxed into 256x256 is scaled by 2 and padded by 64 rows above (a 128x64
one, by 64 columns to the left), so a network pixel (x, y) is the picture's ((x - left) / 2, (y - top) / 2)."""

import pytest

from netdsl.detect import unletterbox
from netdsl.images import letterbox_box

INPUT = (256, 256)
# picture (height, width), where it lies in the input (scale, top, left), then (network box, picture box)
CASES = {
    "wide": ((64, 128), (2.0, 64, 0), [
        ((-20, 40, 50, 100), (0, 0, 25, 18)),  # past the left and top edges
        ((200, 150, 300, 230), (100, 43, 128, 64)),  # past the right and bottom edges
        ((-10, 0, 270, 256), (0, 0, 128, 64)),  # past all four
        ((20, 80, 60, 120), (10, 8, 30, 28)),  # inside: unchanged but for the mapping
    ]),
    "tall": ((128, 64), (2.0, 0, 64), [
        ((40, -20, 100, 50), (0, 0, 18, 25)),  # past the left and top edges
        ((150, 200, 230, 300), (43, 100, 64, 128)),  # past the right and bottom edges
        ((0, -10, 256, 270), (0, 0, 64, 128)),  # past all four
        ((80, 20, 120, 60), (8, 10, 28, 30)),  # inside
    ]),
}


@pytest.mark.parametrize("name", CASES)
def test_boxes_past_each_edge_are_clipped_to_the_picture(name):
    shape, (scale, top, left), boxes = CASES[name]
    box = letterbox_box(shape, INPUT)
    assert (box.scale, box.top, box.left) == (scale, top, left)  # the layout the expected boxes assume
    for network, picture in boxes:
        assert unletterbox(network, box, (*shape, 3)) == pytest.approx(picture), network
