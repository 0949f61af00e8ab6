"""Checkers for chapter 01, "Images as sequences of patches".

Each checker takes the reader's answer, fails with an ``AssertionError`` whose
message is a hint, and calls :func:`vitcourse.exercises.passed` when it is right.
"""

import keras
import numpy as np

from vitcourse.exercises import expect, passed
from vitcourse.layers import Patches

# (image_size, patch_size) -> number of patches, for square images
_NUM_PATCHES_CASES = {(32, 4): 64, (32, 2): 256, (72, 6): 144, (224, 16): 196, (32, 32): 1, (30, 5): 36}
# image sizes that a patch size does not divide
_NOT_DIVISIBLE = [(72, 16), (32, 3), (32, 6), (30, 4)]

_PATCHIFY_CASES = [  # (images shape, patch_size)
    ((2, 8, 8, 3), 2),
    ((1, 72, 72, 3), 6),
    ((3, 6, 10, 1), 2),  # not square, one channel
    ((2, 12, 12, 3), 4),
]


def check_num_patches(num_patches):
    """Exercise 1.1: ``num_patches(image_size, patch_size)`` for a square image.

    It must return the number of patches as an int and raise ``ValueError``
    when ``patch_size`` does not divide ``image_size``.
    """
    for (image_size, patch_size), expected in _NUM_PATCHES_CASES.items():
        got = num_patches(image_size, patch_size)
        expect(
            isinstance(got, (int, np.integer)) and not isinstance(got, bool),
            f"num_patches({image_size}, {patch_size}) returned {got!r} of type "
            f"{type(got).__name__}; a count of patches is an int (use // rather than /).",
        )
        expect(
            got == expected,
            f"num_patches({image_size}, {patch_size}) returned {got}. A {image_size}x{image_size} "
            f"image holds {image_size // patch_size} patches per row and as many rows of them.",
        )
    for image_size, patch_size in _NOT_DIVISIBLE:
        try:
            got = num_patches(image_size, patch_size)
        except ValueError:
            continue
        raise AssertionError(
            f"Not yet: num_patches({image_size}, {patch_size}) returned {got!r}, but "
            f"{patch_size} does not divide {image_size}: {image_size % patch_size} rows and "
            "columns of pixels would be left out (the trap of int(H*W/(P*P))). "
            "Raise ValueError instead."
        )
    return passed("Exercise 1.1 (num_patches)")


def _reference_patches(images, patch_size):
    return keras.ops.convert_to_numpy(Patches(patch_size)(images))


def check_patchify(patchify):
    """Exercise 1.2: ``patchify(images, patch_size)`` in numpy, equal to ``Patches``.

    ``images`` has shape (B, H, W, C); the result must have shape
    (B, N, P*P*C) with the patches in reading order and the pixels of each
    patch row-major, channels last: exactly what ``Patches`` returns.
    """
    rng = np.random.default_rng(1)
    for shape, p in _PATCHIFY_CASES:
        images = rng.uniform(0, 255, size=shape).astype("float32")
        original = images.copy()
        got = np.asarray(patchify(images, p))
        expect(
            np.array_equal(images, original),
            "patchify changed its input images; work on a reshaped view or a copy.",
        )
        b, h, w, c = shape
        expected = _reference_patches(images, p)
        expect(
            got.shape == expected.shape,
            f"for images of shape {shape} and patch_size {p} the result should have shape "
            f"{expected.shape} = (B, (H/P)*(W/P), P*P*C), got {got.shape}.",
        )
        if np.allclose(got, images.reshape(b, -1, p * p * c)):
            raise AssertionError(
                "Not yet: this is a plain reshape, which cuts each row of pixels into runs of "
                f"{p * p} pixels (1x{p * p} strips), not {p}x{p} squares. Split H and W into "
                "(rows, P) and (cols, P), then move the two P axes next to each other with "
                "a transpose before flattening."
            )
        expect(
            np.allclose(got, expected),
            f"right shape, wrong values (images {shape}, patch_size {p}). The patches must "
            "come in reading order (left to right, then top to bottom) and the pixels inside "
            "a patch row by row, channels last: check the axis order of your transpose, "
            "(B, rows, P, cols, P, C) -> (B, rows, cols, P, P, C).",
        )
    return passed("Exercise 1.2 (patchify)")


def check_patch_size_choice(patch_size):
    """Exercise 1.3: the smallest patch size that gives at most 64 tokens on a 32x32 image."""
    expect(
        isinstance(patch_size, (int, np.integer)) and not isinstance(patch_size, bool),
        f"answer with one patch size as an int, got {patch_size!r}.",
    )
    expect(1 <= patch_size <= 32, f"a patch of {patch_size}x{patch_size} does not fit a 32x32 image.")
    expect(
        32 % patch_size == 0,
        f"{patch_size} does not divide 32, so Patches would refuse the image; "
        "only divisors of 32 are possible patch sizes.",
    )
    tokens = (32 // patch_size) ** 2
    expect(
        tokens <= 64,
        f"{patch_size}x{patch_size} patches give {tokens} tokens, more than 64: try larger patches.",
    )
    expect(
        patch_size == 4,
        f"{patch_size}x{patch_size} patches give {tokens} tokens: within the budget, but the "
        "patches are larger than they need to be. Is there a smaller patch size that fits?",
    )
    return passed("Exercise 1.3 (patch size for 64 tokens)")
