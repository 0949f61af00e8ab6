"""Checkers for the exercises of chapter 02, "Patch encoding".

Each checker raises ``AssertionError`` with a hint when the answer is wrong,
and calls :func:`vitcourse.exercises.passed` when it is right.
"""

import numpy as np

from vitcourse.exercises import expect, passed

# (patch_dim, num_patches, projection_dim, position_embedding, class_token)
PATCH_ENCODER_CASES = (
    (108, 144, 64, "learned", False),  # keras.io's ViT
    (12, 256, 128, "fixed_random", False),  # seed 004
    (48, 64, 128, "learned", True),
    (48, 64, 128, "sincos", False),
    (75, 49, 32, "none", True),
)


def patch_encoder_params(patch_dim, num_patches, projection_dim, position_embedding="learned", class_token=False):
    """Trainable weights of ``PatchEncoder``: the reference formula the checker uses."""
    projection = patch_dim * projection_dim + projection_dim  # kernel + bias
    rows = num_patches + int(class_token)  # the class token has its own position
    table = rows * projection_dim if position_embedding == "learned" else 0
    token = projection_dim if class_token else 0
    return projection + table + token


def _built_patch_encoder_params(patch_dim, num_patches, projection_dim, position_embedding, class_token):
    from vitcourse.layers import PatchEncoder

    layer = PatchEncoder(num_patches, projection_dim, position_embedding, class_token)
    layer.build((None, num_patches, patch_dim))
    return layer.count_params()


def check_patch_encoder_params(count_fn):
    """Exercise 2.1: ``count_fn(patch_dim, num_patches, projection_dim, position_embedding, class_token)``."""
    expect(callable(count_fn), "pass the function itself, e.g. check_patch_encoder_params(my_count).")
    for case in PATCH_ENCODER_CASES:
        patch_dim, n, d, kind, cls = case
        want = _built_patch_encoder_params(*case)
        got = count_fn(patch_dim, n, d, kind, cls)
        if got == want:
            continue
        hint = (
            f"for patch_dim={patch_dim}, num_patches={n}, projection_dim={d}, "
            f"position_embedding={kind!r}, class_token={cls} your function gives {got}, "
            f"the built layer has {want}."
        )
        if got == want - d:
            hint += (
                " One vector of projection_dim is missing: the projection's bias"
                + (" or the class token itself?" if cls else "?")
            )
        elif kind in ("sincos", "fixed_random", "none") and got > want:
            hint += f" A {kind!r} table is not trained, so it adds no parameters."
        elif cls and got < want:
            hint += " A class token adds its own vector and, with a learned table, one more position row."
        raise AssertionError(f"Not yet: {hint}")
    return passed("Exercise 2.1 (PatchEncoder parameters)")


def check_sincos_table(table_fn):
    """Exercise 2.2: ``table_fn(num_positions, dim)`` returns the sine-cosine table as an array."""
    from vitcourse.layers import sincos_table

    expect(callable(table_fn), "pass the function itself, e.g. check_sincos_table(my_sincos).")
    for n, dim in ((4, 8), (144, 64), (17, 6)):
        want = sincos_table(n, dim)
        got = np.asarray(table_fn(n, dim), dtype="float64")
        expect(
            got.shape == want.shape,
            f"for ({n}, {dim}) the table must have shape {want.shape} (positions, dim); yours is {got.shape}.",
        )
        if np.allclose(got, want, atol=1e-5):
            continue
        hint = f"for ({n}, {dim}) your table differs from vitcourse.layers.sincos_table."
        if np.allclose(got[:, 0::2], want[:, 1::2], atol=1e-5):
            hint += " Sine goes in the even columns (0, 2, ...), cosine in the odd ones."
        elif not np.allclose(got[0], want[0], atol=1e-5):
            hint += " Row 0 should be [0, 1, 0, 1, ...]: sin(0) = 0 and cos(0) = 1."
        else:
            hint += (
                " Column pair k (columns 2k and 2k+1) uses the rate 1 / 10000 ** (2k / dim), "
                "the same rate for the sine and its cosine."
            )
        raise AssertionError(f"Not yet: {hint}")
    return passed("Exercise 2.2 (sine-cosine table)")


SEED004_FLATTEN_DENSE = 256 * 128 * 2048 + 2048  # 67,110,912


def check_seed004_flatten_dense(params):
    """Exercise 2.3: parameters of the Dense(2048) after Flatten in seed 004's model."""
    expect(isinstance(params, (int, np.integer)), f"give a whole number of parameters, got {params!r}.")
    if params == SEED004_FLATTEN_DENSE:
        return passed("Exercise 2.3 (seed 004's flatten head)")
    if params == 256 * 128 * 2048:
        raise AssertionError("Not yet: that is the kernel; the Dense layer also has one bias per unit.")
    if params == 256 * 128:
        raise AssertionError(
            "Not yet: 256 x 128 = 32,768 is the size of the flattened vector; each of the 2048 units "
            "has one weight per entry of it, plus a bias."
        )
    if params in (128 * 2048 + 2048, 12 * 2048 + 2048):
        raise AssertionError(
            "Not yet: Flatten joins all 256 tokens of 128 numbers into one vector before the Dense layer."
        )
    raise AssertionError(
        "Not yet: the Dense layer sees 256 tokens x 128 numbers flattened; count kernel (inputs x units) plus bias."
    )


POOLINGS = ("flatten", "class_token", "gap")


def check_cheapest_pooling(pooling, flatten_classifier_params):
    """Exercise 2.4: the pooling with the fewest parameters, and the cost of the flatten classifier.

    The configuration: 64 tokens of 128 numbers, 100 classes, no hidden head
    layer (``course_vit``'s sizes).
    """
    expect(pooling in POOLINGS, f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if pooling == "flatten":
        raise AssertionError(
            "Not yet: flattening makes a 64 x 128 = 8,192-long vector, so the classifier needs 8,192 "
            "weights per class. The other two hand it one 128-long vector."
        )
    if pooling == "class_token":
        raise AssertionError(
            "Not yet: the class-token classifier is as small as the average-pooling one, but the token "
            "itself (128 numbers) and its position row (128 more) are extra parameters; average pooling "
            "has none."
        )
    want = 64 * 128 * 100 + 100
    expect(
        isinstance(flatten_classifier_params, (int, np.integer)),
        f"give the flatten classifier's parameters as a whole number, got {flatten_classifier_params!r}.",
    )
    if flatten_classifier_params == 64 * 128 * 100:
        raise AssertionError("Not yet: gap is right; for the flatten classifier add the 100 biases.")
    expect(
        flatten_classifier_params == want,
        "gap is right; the flatten classifier maps a 64 x 128 vector to 100 logits: inputs x units + units.",
    )
    return passed("Exercise 2.4 (cheapest pooling)")
