"""Checkers for the exercises of chapter 02, "Patch encoding".

Each checker raises ``AssertionError`` with a hint when the answer is wrong,
and calls :func:`vitcourse.exercises.passed` when it is right. A student stub
(``None``, or a function that raises ``NotImplementedError``) gets "not
attempted yet" (:func:`vitcourse.exercises.checker`).
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed

# (patch_dim, num_patches, projection_dim, position_embedding, class_token)
PATCH_ENCODER_CASES = (
    (108, 144, 64, "learned", False),  # keras.io's ViT
    (12, 256, 128, "fixed_random", False),  # the 2x2 patches project
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


@checker("Exercise 2.1")
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
            hint += " One vector of projection_dim is missing: " + _missing_vector(count_fn, case)
        elif kind in ("sincos", "fixed_random", "none") and got > want:
            hint += f" A {kind!r} table is not trained, so it adds no parameters."
        elif cls and got < want:
            hint += " A class token adds its own vector and, with a learned table, one more position row."
        raise AssertionError(f"Not yet: {hint}")
    return passed("Exercise 2.1 (PatchEncoder parameters)")


def _missing_vector(count_fn, case):
    """Which projection_dim-wide vector ``count_fn`` leaves out of ``case``, found by asking it about
    the same layer without a class token and without a learned table."""
    patch_dim, n, d, kind, cls = case
    if not cls:
        return "the projection's bias (one per output unit)?"
    if kind == "learned":
        # The same layer without a table: if that count is right, the token is counted and the
        # vector missing from the learned case is the token's own row of the position table.
        no_table = _built_patch_encoder_params(patch_dim, n, d, "none", True)
        if count_fn(patch_dim, n, d, "none", True) == no_table:
            return (
                "the class token's position. A learned table has one row per token, and the class "
                f"token is a token too: {n} patches + 1 = {n + 1} rows of {d}."
            )
    return f"the class token itself, a learned vector of {d} numbers prepended to the patches."


@checker("Exercise 2.2")
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


FLATTEN_DENSE_2X2 = 256 * 128 * 2048 + 2048  # 67,110,912


@checker("Exercise 2.3")
def check_flatten_dense_2x2(params):
    """Exercise 2.3: parameters of the Dense(2048) after Flatten in the 2x2 patches project's model."""
    expect(isinstance(params, (int, np.integer)), f"give a whole number of parameters, got {params!r}.")
    if params == FLATTEN_DENSE_2X2:
        return passed("Exercise 2.3 (the 2x2 patches project's flatten head)")
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


@checker("Exercise 2.4")
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


# Exercise 2.6: a ViT with a class token, trained for seconds on scikit-learn's digits.
DIGITS_IMAGE_SIZE = 16
DIGITS_PATCH_SIZE = 4
DIGITS_TOKENS = (DIGITS_IMAGE_SIZE // DIGITS_PATCH_SIZE) ** 2 + 1  # 16 patches + the class token
DIGITS_MIN_ACCURACY = 0.3  # chance is 0.1; a few epochs give far more (the tests check that a right answer does)


def _block_token_counts(model):
    """Tokens per image that enter each TransformerBlock of ``model``, measured on its graph."""
    from vitcourse.layers import TransformerBlock

    counts = []
    for layer in model.layers:
        if isinstance(layer, TransformerBlock):
            try:
                counts.append(tuple(layer.input.shape)[1])
            except (AttributeError, ValueError):
                counts.append(None)
    return counts


def digits_accuracy(model, digits):
    """Accuracy of ``model`` on the test digits (pixels scaled to [0, 1])."""
    images = digits.x_test.astype("float32") / 255.0
    logits = keras.ops.convert_to_numpy(model.predict(images, batch_size=256, verbose=0))
    return float(np.mean(np.argmax(logits, axis=-1) == digits.y_test))


@checker("Exercise 2.6")
def check_digits_vit(model, digits):
    """Exercise 2.6: a ViT with a class token, trained on ``digits`` (``load_digits_dataset(image_size=16)``).

    The checker measures the model: its input and output shapes, the number of
    tokens that enter its transformer blocks (16 patches of 4x4 and the class
    token: 17), and its accuracy on the 449 test digits, which must be well
    above chance (10%) after a few epochs.
    """
    expect(isinstance(model, keras.Model), f"set digits_vit to the trained keras.Model, got {type(model).__name__}.")
    size = DIGITS_IMAGE_SIZE
    expect(
        tuple(digits.x_test.shape[1:]) == (size, size, 3),
        f"load the digits with load_digits_dataset(image_size={size}); these images are {digits.x_test.shape[1:]}.",
    )
    expect(
        tuple(model.input_shape) == (None, size, size, 3),
        f"the model takes inputs of shape {model.input_shape}; the digits are (None, {size}, {size}, 3): "
        f"pass input_shape=({size}, {size}, 3).",
    )
    expect(
        tuple(model.output_shape) == (None, 10),
        f"the model outputs {model.output_shape}; ten digits need (None, 10): pass num_classes=10.",
    )
    counts = _block_token_counts(model)
    expect(counts, "the model has no vitcourse TransformerBlock; build it with vitcourse.build_model.")
    if counts[0] == DIGITS_TOKENS - 1:
        raise AssertionError(
            f"Not yet: {counts[0]} tokens enter the blocks: the 16 patches, and no class token. "
            "Pass class_token=True, and pooling='class_token' so that the classifier reads it."
        )
    expect(
        counts[0] == DIGITS_TOKENS,
        f"{counts[0]} tokens enter the blocks; 4x4 patches of a 16x16 digit are 16, and the class token "
        f"makes {DIGITS_TOKENS}: pass patch_size={DIGITS_PATCH_SIZE}.",
    )
    accuracy = digits_accuracy(model, digits)
    if accuracy < DIGITS_MIN_ACCURACY:
        raise AssertionError(
            f"Not yet: the model classifies {accuracy:.0%} of the test digits right (chance: 10%). Was it "
            "trained, and on digits.x_train / 255 (pixels in [0, 1], as the checker feeds them)? "
            "A few epochs with AdamW(learning_rate=3e-3), batches of 64, should be enough."
        )
    return passed(f"Exercise 2.6 (a ViT with a class token: {accuracy:.0%} of the test digits)")
