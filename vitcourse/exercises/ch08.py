"""Checkers for the exercises of chapter 08, "Inside a trained ViT".

Each checker raises ``AssertionError`` with a hint when the answer is wrong,
and returns :func:`vitcourse.exercises.passed` when it is right. A student stub
(``None``, or a function that raises ``NotImplementedError``) gets "not
attempted yet" (:func:`vitcourse.exercises.checker`). The references are the
package's own functions in :mod:`vitcourse.inspection`, and models measured
after a short run on scikit-learn's digits.
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.inspection import (
    TokenLayout,
    attention_maps,
    attention_rollout,
    mean_attention_distance,
    photograph_crops,
    position_layer,
    position_table,
    token_layout,
)


def _random_maps(batch, heads, tokens, seed):
    """Attention maps as a block makes them: each row a softmax, so it sums to 1."""
    scores = np.random.default_rng(seed).normal(scale=2.0, size=(batch, heads, tokens, tokens))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def _as_rows(answer, batch, grid):
    """The answer as (B, grid * grid), whether it came as (B, N) or (B, grid, grid)."""
    answer = np.asarray(answer, dtype="float64")
    expect(
        answer.shape in ((batch, grid * grid), (batch, grid, grid)),
        f"for {batch} images on a {grid}x{grid} grid return an array of shape ({batch}, {grid}, {grid}) "
        f"(or ({batch}, {grid * grid})), one value per patch; got shape {answer.shape}.",
    )
    return answer.reshape(batch, grid * grid)


# ---- Exercise 8.1: attention rollout by hand --------------------------------------------------


@checker("Exercise 8.1")
def check_rollout_two_blocks(rollout_fn):
    """Exercise 8.1: ``rollout_fn(first, second)`` is the rollout of two blocks, from the average over tokens.

    ``first`` and ``second`` are two blocks' attention maps, (B, heads, N, N), of a model
    without a class token whose N patches form a square grid. The answer is (B, grid, grid)
    (or (B, N)): the mean over all tokens of the rolled-out attention, as
    ``attention_rollout([first, second], layout, start="mean")`` computes it.
    """
    expect(callable(rollout_fn), "pass the function itself, e.g. check_rollout_two_blocks(rollout_two_blocks).")
    batch, heads, grid = 2, 3, 4
    layout = TokenLayout(grid=grid, class_token=False, patch_pixels=1)
    first, second = _random_maps(batch, heads, grid * grid, 1), _random_maps(batch, heads, grid * grid, 2)
    got = _as_rows(rollout_fn(first.copy(), second.copy()), batch, grid)
    want = attention_rollout([first, second], layout, start="mean").reshape(batch, -1)
    if np.allclose(got, want, atol=1e-6):
        return passed("Exercise 8.1 (attention rollout of two blocks, by hand)")

    eye = np.eye(grid * grid)
    a1, a2 = (0.5 * m.mean(axis=1) + 0.5 * eye for m in (first, second))  # (B, N, N) each
    no_residual = attention_rollout([first, second], layout, start="mean", residual=False).reshape(batch, -1)
    if np.allclose(got, no_residual, atol=1e-6):
        hint = (
            "you multiplied the attention matrices alone. Each block adds its input back (the residual "
            "connection), so a token keeps part of itself: use 0.5 * A + 0.5 * I for each block."
        )
    elif np.allclose(got, (a1 @ a2).mean(axis=1), atol=1e-6):
        hint = (
            "the order of the product is reversed. The second block mixes tokens that the first has already "
            "mixed: rollout = A_second @ A_first (later blocks on the left)."
        )
    elif np.allclose(got, 1.0 / (grid * grid), atol=1e-6):
        hint = (
            "every patch gets 1/N: you averaged each row over its columns, and a row of attention sums "
            "to 1. Row q says where token q's information comes from; average the rows instead (axis 1 "
            "of the (B, N, N) product), so that each patch (a column) gets one value."
        )
    elif np.allclose(got, (a2 @ a1)[:, 0], atol=1e-6):
        hint = (
            "you read row 0, the class token's row, but this model has no class token: token 0 is an "
            "ordinary patch. Average over all the rows (start='mean')."
        )
    elif any(
        np.allclose(got, ((0.5 * second[:, h] + 0.5 * eye) @ (0.5 * first[:, h] + 0.5 * eye)).mean(axis=1), atol=1e-6)
        for h in range(heads)
    ):
        hint = "you used one head. Average the heads of each block first: A = maps.mean(axis=1)."
    else:
        hint = (
            "for each block average the heads (A = maps.mean(axis=1)), mix in the identity "
            "(0.5 * A + 0.5 * I), multiply the second block's matrix by the first's (A2 @ A1), "
            "average the rows, and reshape to the grid."
        )
    raise AssertionError(f"Not yet: {hint}")


# ---- Exercise 8.2: the attention distance of a head that looks everywhere ----------------------

_UNIFORM_CASES = ((2, 16), (3, 1), (4, 4), (8, 4), (12, 6), (14, 16))  # (grid, patch_pixels)


def uniform_distance(grid, patch_pixels):
    """The package's answer: mean_attention_distance of a head that attends to every patch equally."""
    tokens = grid * grid
    maps = [np.full((1, 1, tokens, tokens), 1.0 / tokens)]
    return float(mean_attention_distance(maps, TokenLayout(grid, False, patch_pixels))[0, 0])


@checker("Exercise 8.2")
def check_uniform_distance(distance_fn):
    """Exercise 8.2: ``distance_fn(grid, patch_pixels)``: mean attention distance of a uniform head, in pixels.

    A head that gives every one of the ``grid x grid`` patches the same weight: its mean
    attention distance is the mean distance between two patch centres (every query, every
    key, a query and itself included), patches being ``patch_pixels`` apart.
    """
    expect(callable(distance_fn), "pass the function itself, e.g. check_uniform_distance(uniform_head_distance).")
    for grid, pixels in _UNIFORM_CASES:
        got = distance_fn(grid, pixels)
        want = uniform_distance(grid, pixels)
        expect(
            isinstance(got, (int, float, np.floating, np.integer)) and not isinstance(got, bool),
            f"distance_fn({grid}, {pixels}) returned {got!r}; return one number (pixels).",
        )
        if np.isclose(got, want, rtol=1e-6):
            continue
        tokens = grid * grid
        hint = f"for a {grid}x{grid} grid of {pixels}-pixel patches you give {got:.4g} pixels, the package {want:.4g}."
        if np.isclose(got, want * tokens / (tokens - 1), rtol=1e-6):
            hint += (
                " You left out each patch's distance to itself (0). A uniform head gives itself the same "
                "weight as every other patch: average over all grid^2 x grid^2 pairs."
            )
        elif pixels != 1 and np.isclose(got * pixels, want, rtol=1e-6):
            hint += " That is in patches; multiply by patch_pixels to get pixels."
        elif np.isclose(got, _manhattan(grid) * pixels, rtol=1e-6):
            hint += " That is the city-block distance; the distance between two centres is Euclidean (np.hypot)."
        else:
            hint += (
                " Put the patch centres at (row, column) x patch_pixels, take the Euclidean distance of "
                "every pair (query and key, both over all patches) and average them."
            )
        raise AssertionError(f"Not yet: {hint}")
    return passed("Exercise 8.2 (the mean attention distance of a uniform head)")


def _manhattan(grid):
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    return float(np.mean(np.abs(rows[:, None] - rows[None]) + np.abs(cols[:, None] - cols[None])))


# ---- Exercise 8.3: a class token, trained and measured -----------------------------------------

DIGITS_SHAPE = (16, 16, 3)
DIGITS_GRID = 4  # 4x4 patches of 4x4 pixels
DIGITS_EPOCHS = 3
DIGITS_MIN_ACCURACY = 0.4  # chance is 0.1; a working answer reaches 0.6 to 0.9
_MAX_PARAMETERS = 300_000


def _train_on_digits(model, seed=0):
    """Fits ``model`` for a few epochs on scikit-learn's digits (16x16); its test accuracy and test images."""
    from vitcourse.data import load_digits_dataset
    from vitcourse.training import compile_model, evaluate

    data = load_digits_dataset(image_size=DIGITS_SHAPE[0])
    batch_size = 64
    steps = DIGITS_EPOCHS * -(-len(data.x_train) // batch_size)
    keras.utils.set_random_seed(seed)
    compile_model(model, learning_rate=2e-3, weight_decay=1e-4, total_steps=steps)
    model.fit(data.x_train.astype("float32"), data.y_train, epochs=DIGITS_EPOCHS, batch_size=batch_size, verbose=0)
    return evaluate(model, data.x_test, data.y_test)["accuracy"], data.x_test


@checker("Exercise 8.3")
def check_class_token_vit(build_fn):
    """Exercise 8.3: ``build_fn() -> keras.Model``: a ViT with a class token for the digits at 16x16.

    The model takes (16, 16, 3) images, cuts 4x4 patches (a 4x4 grid), puts a class token
    in front and classifies from it (not from the average of the tokens), with 10 logits
    and at most 300,000 parameters. The checker trains it for 3 epochs on the digits,
    measures its test accuracy (well above chance), and rolls its attention out from the
    class token: one (4, 4) map per image.
    """
    keras.utils.set_random_seed(0)
    model = build_fn()
    expect(isinstance(model, keras.Model), f"build_fn() returned a {type(model).__name__}; return a keras.Model.")
    shape = tuple(model.input_shape[1:])
    expect(shape == DIGITS_SHAPE, f"the model takes inputs of shape {shape}; the digits are {DIGITS_SHAPE}: input_shape=(16, 16, 3).")
    expect(
        tuple(model.output_shape) == (None, 10),
        f"the model's output has shape {model.output_shape}; there are 10 digits: num_classes=10.",
    )
    try:
        layout = token_layout(model)
    except ValueError as error:
        raise AssertionError(f"Not yet: {error} Build it with vitcourse.build_model('course_vit', ...).") from None
    expect(
        layout.grid == DIGITS_GRID,
        f"the model cuts a {layout.grid}x{layout.grid} grid of patches; with patch_size=4 a 16x16 image "
        "is a 4x4 grid.",
    )
    expect(
        layout.class_token,
        "the model has no class token: build it with class_token=True (and pooling='class_token', so "
        "that the head reads it).",
    )
    pools = [layer.name for layer in model.layers if isinstance(layer, (keras.layers.GlobalAveragePooling1D, keras.layers.Flatten))]
    expect(
        not pools,
        f"the model has a class token but its head reads {', '.join(pools)}, not the class token, so the "
        "class token learns nothing useful: set pooling='class_token'.",
    )
    expect(
        model.count_params() <= _MAX_PARAMETERS,
        f"the model has {model.count_params():,} parameters; keep it at most {_MAX_PARAMETERS:,} (for example "
        "depth=2, projection_dim=32, num_heads=2, mlp_units=(64, 32)) so that the check trains it in seconds.",
    )
    accuracy, x_test = _train_on_digits(model)
    expect(
        accuracy >= DIGITS_MIN_ACCURACY,
        f"after {DIGITS_EPOCHS} epochs the model gets {accuracy:.0%} of the test digits right (chance is 10%, "
        f"the check asks for {DIGITS_MIN_ACCURACY:.0%}). Use augmentation='none' (the CIFAR flips turn "
        "digits into other symbols), keep dropout low and the model small.",
    )
    maps = attention_maps(model, x_test[:8].astype("float32"))
    rollout = attention_rollout(maps, layout, start="class_token")
    expect(rollout.shape == (8, DIGITS_GRID, DIGITS_GRID), f"rollout shape {rollout.shape}")
    centre = rollout[:, 1:3, 1:3].sum() / rollout.sum()
    return passed(
        f"Exercise 8.3 (a class-token ViT: {accuracy:.0%} test accuracy after {DIGITS_EPOCHS} epochs; "
        f"its class token's rollout is (8, 4, 4), {centre:.0%} of it on the 4 centre patches)"
    )


# ---- Exercise 8.4: a model without its position table, measured --------------------------------

AGREEMENT_IMAGES = 64
AGREEMENT_TOLERANCE = 0.02


def agreement(first, second, images):
    """The share of ``images`` on which two models predict the same class."""
    a = np.argmax(np.asarray(first.predict(images, verbose=0)), axis=-1)
    b = np.argmax(np.asarray(second.predict(images, verbose=0)), axis=-1)
    return float(np.mean(a == b))


@checker("Exercise 8.4")
def check_without_positions(original, changed, measured_agreement):
    """Exercise 8.4: ``changed`` is ``original`` with its position table set to zeros; ``measured_agreement`` is
    the share of ``photograph_crops(64)`` on which the two predict the same class.

    The checker compares the two models' weights (only the position table may differ, and
    it must be all zeros) and measures the agreement itself.
    """
    expect(
        isinstance(changed, keras.Model) and changed is not original,
        "pass the changed copy as the second argument, not the original: clone it first "
        "(keras.models.clone_model, then set_weights), or load the model a second time.",
    )
    expect(
        np.any(position_table(original) != 0),
        "the original's position table is all zeros too: you changed the original. Load it again "
        "(load_trained()) and change a copy.",
    )
    table = position_table(changed)
    expect(
        np.allclose(table, 0.0),
        f"the changed model's position table is not zero (largest |value| {np.abs(table).max():.3g}): "
        "assign zeros to position_layer(changed).table.",
    )
    positions = position_layer(changed).table
    others_changed = [
        w.path for w, v in zip(changed.weights, original.weights)
        if w.path != positions.path and not np.array_equal(keras.ops.convert_to_numpy(w), keras.ops.convert_to_numpy(v))
    ]
    expect(
        len(changed.weights) == len(original.weights) and not others_changed,
        f"more than the position table changed ({', '.join(others_changed[:3]) or 'a different model'}): "
        "copy all the original's weights first (changed.set_weights(original.get_weights())).",
    )
    expect(
        isinstance(measured_agreement, (float, np.floating)) and 0 <= measured_agreement <= 1,
        f"measured_agreement is {measured_agreement!r}; give the share (a float between 0 and 1) of the "
        f"{AGREEMENT_IMAGES} crops on which the two models predict the same class.",
    )
    images = photograph_crops(AGREEMENT_IMAGES).astype("float32")
    want = agreement(original, changed, images)
    if abs(measured_agreement - (1 - want)) <= AGREEMENT_TOLERANCE < abs(measured_agreement - want):
        raise AssertionError(
            f"Not yet: {measured_agreement:.2f} is the share of crops whose prediction changed; the exercise "
            "asks for the share on which the two models agree."
        )
    expect(
        abs(measured_agreement - want) <= AGREEMENT_TOLERANCE,
        f"the checker measures an agreement of {want:.2f} on photograph_crops({AGREEMENT_IMAGES}); you give "
        f"{measured_agreement:.2f}. Compare np.argmax of the two models' outputs on the same "
        f"{AGREEMENT_IMAGES} crops (as float32).",
    )
    return passed(
        f"Exercise 8.4 (without its position table the model agrees with itself on {want:.0%} of the crops)"
    )
