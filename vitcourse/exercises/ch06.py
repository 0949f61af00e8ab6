"""Checkers for chapter 06, "CNN features as tokens: the hybrid".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and returns
:func:`vitcourse.exercises.passed` when it is right. A student stub (``None``,
or a function that raises ``NotImplementedError``) gets "not attempted yet"
(:func:`vitcourse.exercises.checker`). The references are the package's
:func:`vitcourse.hybrid.resnet50_grid` (itself tested against a built ResNet50)
and :func:`vitcourse.hybrid.feature_tokens_model`; exercise 6.2's answer is
checked on built attention layers, and exercise 6.3's model by measuring it
(its shapes, its parameters, and what permuting its nine tokens does).
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.hybrid import feature_tokens_model, resnet50_grid, sizes_for_grid

# ---- Exercise 6.1: which input sizes give a 3x3 map ------------------------------------------


@checker("Exercise 6.1")
def check_input_sizes(input_sizes):
    """Exercise 6.1: ``input_sizes(grid)`` returns ``(smallest, largest)``.

    The smallest and largest square input sizes, in pixels, for which ResNet50
    (``include_top=False``) returns a ``grid`` x ``grid`` feature map. Checked for
    grids 1 to 8 against :func:`vitcourse.hybrid.resnet50_grid`.
    """
    for grid in range(1, 9):
        answer = input_sizes(grid)
        expect(
            isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"input_sizes({grid}) returned {answer!r}; return two numbers, (smallest, largest).",
        )
        smallest, largest = (int(v) for v in answer)
        sizes = sizes_for_grid(grid, range(1, 32 * grid + 64))
        want = (sizes[0], sizes[-1])
        for what, size, right in (("largest", largest, want[1]), ("smallest", smallest, want[0])):
            if size == right:
                continue
            side = resnet50_grid(size) if size > 0 else 0
            expect(
                side == grid,
                f"for grid={grid} you say {size} pixels give a {grid}x{grid} map, but ResNet50 gives "
                f"{side}x{side} there. Every one of its five halvings rounds up (padding), so the map's "
                "side is size / 32 rounded up, not down.",
            )
            expect(
                False,
                f"for grid={grid} your {what} size is {size}; {right} pixels give {grid}x{grid} too. "
                "Every one of ResNet50's five halvings rounds up, so the side is size / 32 rounded up.",
            )
    return passed("Exercise 6.1 (a grid of g x g from 32(g-1)+1 to 32g pixels)")


# ---- Exercise 6.2: attention over one token ---------------------------------------------------


def _random_attention(num_heads, key_dim, dim, seed):
    """A built MultiHeadAttention with random weights, biases included (Keras starts them at 0)."""
    attention = keras.layers.MultiHeadAttention(num_heads, key_dim)
    attention.build((None, 1, dim), (None, 1, dim))
    rng = np.random.default_rng(seed)
    attention.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in attention.get_weights()])
    return attention


@checker("Exercise 6.2")
def check_as_dense(as_dense):
    """Exercise 6.2: ``as_dense(attention)`` returns ``(W, b)``.

    For a built ``keras.layers.MultiHeadAttention`` and any tokens ``x`` of shape
    (B, 1, D), ``attention(x, x)`` must equal ``x @ W + b``. Checked on two layers
    with random weights and biases, of different sizes.
    """
    for num_heads, key_dim, dim, seed in ((2, 3, 6, 0), (4, 5, 8, 1)):
        attention = _random_attention(num_heads, key_dim, dim, seed)
        answer = as_dense(attention)
        expect(
            isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"as_dense returned {type(answer).__name__}; return two arrays, (W, b).",
        )
        w, b = (np.asarray(keras.ops.convert_to_numpy(a), dtype="float64") for a in answer)
        expect(
            w.shape == (dim, dim) and b.shape == (dim,),
            f"for tokens of {dim} values W must be ({dim}, {dim}) and b ({dim},); yours are {w.shape} "
            f"and {b.shape}. The value kernel is (D, heads, key_dim): reshape it to (D, heads * key_dim), "
            "and the output kernel (heads, key_dim, D) to (heads * key_dim, D).",
        )
        x = np.random.default_rng(seed + 10).normal(size=(5, 1, dim)).astype("float32")
        with np.errstate(all="ignore"):
            want = np.asarray(keras.ops.convert_to_numpy(attention(x, x)), dtype="float64")
        got = x.astype("float64") @ w + b
        if np.allclose(got, want, atol=1e-4):
            continue
        offset = want - x.astype("float64") @ w
        expect(
            not np.allclose(offset, offset[:1], atol=1e-4),
            "W is right, b is not: the value bias goes through the output projection too, so "
            "b = value_bias @ Wo + output_bias.",
        )
        expect(
            False,
            "x @ W + b differs from attention(x, x). With one key the softmax gives weight 1, so each "
            "head returns its value projection x @ Wv + bv; then the output projection applies: "
            "W = Wv @ Wo. Query and key weights play no part.",
        )
    return passed("Exercise 6.2 (one token: attention is x @ (Wv Wo) + (bv Wo + bo))")


# ---- Exercise 6.3: nine tokens with a class token ---------------------------------------------

SHAPE = (3, 3, 2048)


def _outputs(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype="float64")


def _position_weights(model):
    """The position tables: weights whose path names a position table or an embedding."""
    found = []
    for w in model.weights:
        path = w.path.lower()
        if path.endswith("table") or "position" in path or "embedding" in path:
            if "cls" not in path.split("/")[-1]:
                found.append(w)
    return found


@checker("Exercise 6.3")
def check_nine_token_classifier(nine_token_classifier, num_classes=10):
    """Exercise 6.3: ``nine_token_classifier(num_classes)``, a model for (3, 3, 2048) features.

    Nine tokens (one per cell), each projected by ``PatchEncoder(9, 256, class_token=True)``,
    two ``TransformerBlock(4, 64, [512, 256])``, a final LayerNorm, the class token's state and
    ``Dense(num_classes)``. Measured: its input and output shapes, its parameter count (that of
    :func:`vitcourse.hybrid.feature_tokens_model`), and that permuting the nine cells changes
    its output only through the position table: with the table set to zero, the output does
    not change at all.
    """
    model = nine_token_classifier(num_classes)
    expect(isinstance(model, keras.Model), f"nine_token_classifier returned {type(model).__name__}; return a keras.Model.")
    expect(
        tuple(model.input_shape[1:]) == SHAPE,
        f"the model takes inputs of shape {model.input_shape}; ResNet50's map is (None, 3, 3, 2048): keras.Input((3, 3, 2048)).",
    )
    expect(
        tuple(model.output_shape) == (None, num_classes),
        f"the model's output is {model.output_shape}; it must be (None, {num_classes}): one logit per class, "
        "from the class token's state (x[:, 0]) through Dense(num_classes).",
    )
    keras.utils.set_random_seed(6)
    want = feature_tokens_model(SHAPE, num_classes=num_classes).count_params()
    got = model.count_params()
    expect(
        got < 10 * want,
        f"the model has {got:,} parameters, the nine-token model {want:,}: is there a Dense on the "
        "flattened features? Project each cell by itself: Reshape to (9, 2048), then PatchEncoder.",
    )
    expect(
        got != want - 512,
        f"{got:,} parameters, 512 fewer than {want:,}: the class token (256) and its position (256) "
        "are missing. PatchEncoder(9, 256, class_token=True) adds both.",
    )
    expect(
        got == want,
        f"the model has {got:,} parameters; the one asked for has {want:,} (PatchEncoder(9, 256, "
        "class_token=True), two TransformerBlock(4, 64, [512, 256]), LayerNormalization, Dense).",
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *SHAPE)).astype("float32")
    order = rng.permutation(9)
    shuffled = x.reshape(2, 9, -1)[:, order].reshape(x.shape)  # the same cells, in another order
    expect(
        not np.allclose(_outputs(model, x), _outputs(model, shuffled), atol=1e-5),
        "shuffling the nine cells does not change the output: the model cannot tell where a cell "
        "was. Add a position for each of the nine tokens (PatchEncoder does).",
    )
    tables = _position_weights(model)
    expect(
        tables,
        "no position table found (a weight whose name ends in 'table' or names a position or an "
        "embedding): use vitcourse.layers.PatchEncoder for the projection and the positions.",
    )
    saved = [keras.ops.convert_to_numpy(w) for w in tables]
    try:
        for w in tables:
            w.assign(np.zeros(w.shape, dtype="float32"))
        same = np.allclose(_outputs(model, x), _outputs(model, shuffled), atol=1e-4)
    finally:
        for w, value in zip(tables, saved):
            w.assign(value)
    expect(
        same,
        "with the position table set to zero, shuffling the nine cells still changes the output: "
        "something other than the positions depends on the order of the cells. Project every cell "
        "with the same Dense (on the last axis, after Reshape to (9, 2048)) and read the class "
        "token's state, x[:, 0], not a Flatten of all tokens.",
    )
    return passed(f"Exercise 6.3 ({got:,} parameters; the cells' order matters only through their positions)")
