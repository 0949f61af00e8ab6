"""Tests of vitcourse/data/folders.py: folders of class sub-folders read with Pillow."""

import numpy as np
import pytest
from PIL import Image

from vitcourse import data


def make_image_folder(root, classes=("dog", "cat", "bird"), per_class=4, size=(6, 5)):
    """root/<class>/<i>.png, each class a flat colour: (10*class_index, i, 200)."""
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.zeros((*size, 3), np.uint8) + np.array([10 * k, i, 200], np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_load_image_folder(tmp_path):
    root = make_image_folder(tmp_path / "images")
    (root / "cat" / "notes.txt").write_text("not an image: skipped")
    x, y, names = data.load_image_folder(root)
    assert names == ["bird", "cat", "dog"]  # sorted folder names
    assert x.shape == (12, 6, 5, 3) and x.dtype == np.uint8
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and y.dtype == np.int64
    # bird was written as class index 2, so its red channel is 20; files in sorted order.
    assert x[0, 0, 0].tolist() == [20, 0, 200] and x[3, 0, 0].tolist() == [20, 3, 200]

    x, y, names = data.load_image_folder(root, image_size=8, class_names=["dog", "cat"], limit_per_class=2)
    assert x.shape == (4, 8, 8, 3) and names == ["dog", "cat"] and y.tolist() == [0, 0, 1, 1]


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_image_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class sub-folders"):
        data.load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        data.load_image_folder(tmp_path)

    root = make_image_folder(tmp_path / "broken")
    (root / "cat" / "9.png").write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match="9.png"):
        data.load_image_folder(root)

    root = make_image_folder(tmp_path / "mixed")
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "dog" / "big.png")
    with pytest.raises(ValueError, match="image_size"):
        data.load_image_folder(root)
    assert data.load_image_folder(root, image_size=(4, 6))[0].shape == (13, 4, 6, 3)


def test_16_bit_png_is_scaled_to_0_255(tmp_path):
    """A 16-bit grey PNG (Pillow's mode I;16) keeps its shades instead of turning white."""
    (tmp_path / "scans" / "a").mkdir(parents=True)
    ramp = (np.arange(4 * 5).reshape(4, 5) * 3000).astype(np.uint16)  # 0 .. 57,000 of 65,535
    Image.fromarray(ramp).save(tmp_path / "scans" / "a" / "ramp.png")
    assert Image.open(tmp_path / "scans" / "a" / "ramp.png").mode.startswith("I")
    x, _, _ = data.load_image_folder(tmp_path / "scans")
    assert x.shape == (1, 4, 5, 3) and x.dtype == np.uint8
    expected = np.round(ramp / 257).astype(np.uint8)
    np.testing.assert_array_equal(x[0, ..., 0], expected)
    np.testing.assert_array_equal(x[0, ..., 2], expected)  # grey repeated as RGB
    assert x.min() == 0 and x.max() == round(57_000 / 257)
