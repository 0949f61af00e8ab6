"""Checkers for chapter 01, "Images as sequences of patches".

Each checker takes the reader's answer, fails with an ``AssertionError`` whose
message is a hint, and calls :func:`vitcourse.exercises.passed` when it is right.
A student stub (``None``, or a function that raises ``NotImplementedError``)
gets "not attempted yet" (:func:`vitcourse.exercises.checker`).
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
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


@checker("Exercise 1.1")
def check_num_patches(num_patches):
    """Exercise 1.1: ``num_patches(image_size, patch_size)`` for a square image.

    It must return the number of patches as an int and raise ``ValueError``
    when ``patch_size`` does not divide ``image_size``.
    """
    expect(callable(num_patches), "pass the function itself, e.g. check_num_patches(num_patches).")
    for (image_size, patch_size), expected in _NUM_PATCHES_CASES.items():
        got = _call(num_patches, image_size, patch_size)
        if isinstance(got, Exception):
            raise AssertionError(
                f"Not yet: num_patches({image_size}, {patch_size}) raised {_named(got)}. "
                f"But {patch_size} divides {image_size}, so it should return the number of patches."
            )
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
        got = _call(num_patches, image_size, patch_size)
        if isinstance(got, ValueError):
            continue
        left_out = image_size % patch_size
        if isinstance(got, Exception):
            raise AssertionError(
                f"Not yet: num_patches({image_size}, {patch_size}) raised {_named(got)}. "
                f"Refusing is right ({patch_size} does not divide {image_size}), but raise ValueError, "
                "the exception Python uses for an argument of the right type with a wrong value "
                "(Patches raises it too): raise ValueError(\"...\")."
            )
        raise AssertionError(
            f"Not yet: num_patches({image_size}, {patch_size}) returned {got!r}, but "
            f"{patch_size} does not divide {image_size}: {left_out} rows and "
            "columns of pixels would be left out (the trap of int(H*W/(P*P))). "
            "Raise ValueError instead."
        )
    return passed("Exercise 1.1 (num_patches)")


def _named(error):
    """``TypeName: first line of the message``."""
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _call(function, *args):
    """``function(*args)``, or the exception it raised (a stub's NotImplementedError goes through)."""
    try:
        return function(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # the hint names it
        return error


def _reference_patches(images, patch_size):
    return keras.ops.convert_to_numpy(Patches(patch_size)(images))


@checker("Exercise 1.2")
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


@checker("Exercise 1.3")
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


# Exercise 1.5: the patch size of a model. For each patch size, the tokens a
# model for 32x32 images must make.
_MODEL_PATCH_SIZES = {2: 256, 4: 64, 8: 16}


def _first_token_count(model):
    """Tokens per image where the model first holds a sequence: the first rank-3 (B, N, D) output."""
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if len(shape) == 3:
            return shape[1]
    return None


def _photo_batch():
    """Two real photographs (scikit-learn's sample images) at 32x32, as float32 in [0, 255]."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = []
    for photo in load_sample_images().images:  # (427, 640, 3) uint8 each
        side = min(photo.shape[:2])
        square = Image.fromarray(photo[:side, :side]).resize((32, 32))
        photos.append(np.asarray(square, dtype="float32"))
    return np.stack(photos)  # (2, 32, 32, 3)


@checker("Exercise 1.5")
def check_patch_size_model(vit_for_patches):
    """Exercise 1.5: ``vit_for_patches(patch_size)`` builds a ViT for 32x32 RGB images and 10 classes.

    For patch sizes 2, 4 and 8 the checker builds the model and measures it: the
    input shape, the number of tokens the model cuts an image into, and the
    output of the model on two real photographs.
    """
    expect(callable(vit_for_patches), "pass the function itself, e.g. check_patch_size_model(vit_for_patches).")
    photos = _photo_batch()
    for patch_size, tokens in _MODEL_PATCH_SIZES.items():
        model = vit_for_patches(patch_size)
        expect(
            isinstance(model, keras.Model),
            f"vit_for_patches({patch_size}) returned {type(model).__name__}; return the keras.Model itself.",
        )
        expect(
            tuple(model.input_shape) == (None, 32, 32, 3),
            f"vit_for_patches({patch_size}) takes inputs of shape {model.input_shape}; the model is for "
            "32x32 RGB images, (None, 32, 32, 3): pass input_shape=(32, 32, 3) and no resize (image_size=0).",
        )
        got = _first_token_count(model)
        expect(got is not None, "no layer of the model outputs a sequence of tokens (B, N, D); build it "
               "with vitcourse.build_model so that it starts with patches.")
        if got != tokens:
            hint = f"vit_for_patches({patch_size}) cuts a 32x32 image into {got} tokens, not (32/{patch_size})^2 = {tokens}."
            if got == 64:
                hint += " Is the patch size still course_vit's 4? Pass patch_size=patch_size to build_model."
            raise AssertionError(f"Not yet: {hint}")
        logits = keras.ops.convert_to_numpy(model(photos, training=False))
        expect(
            logits.shape == (2, 10),
            f"on a batch of 2 photographs vit_for_patches({patch_size}) outputs shape {logits.shape}; "
            "a classifier for 10 classes outputs (2, 10): pass num_classes=10.",
        )
        expect(np.all(np.isfinite(logits)), f"vit_for_patches({patch_size}) outputs NaN or infinity.")
    return passed("Exercise 1.5 (the patch size of a model)")
