"""The checkers of chapter 06, each with a right answer, wrong ones (reaching each hint) and the stub."""

import keras
import numpy as np
import pytest
from keras import layers

from vitcourse.exercises import NotAttempted, ch06
from vitcourse.layers import PatchEncoder, TransformerBlock


def stub(*args):
    raise NotImplementedError("Exercise 6.x")


# ---- Exercise 6.1: which input sizes give a 3x3 map ------------------------------------------


def test_input_sizes_right():
    assert ch06.check_input_sizes(lambda grid: (32 * (grid - 1) + 1, 32 * grid))
    assert ch06.check_input_sizes(lambda grid: [np.int64(32 * grid - 31), np.int64(32 * grid)])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda g: (32 * g, 32 * g + 31), "rounds up"),  # size // 32: rounding down
        (lambda g: (32 * (g - 1) + 1, 32 * g - 1), "largest size is"),  # one short
        (lambda g: (32 * (g - 1), 32 * g), "but ResNet50 gives"),  # one pixel too small
        (lambda g: (32 * (g - 1) + 2, 32 * g), "smallest size is"),
        (lambda g: 32 * g, "two numbers"),
    ],
)
def test_input_sizes_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch06.check_input_sizes(wrong)


def test_input_sizes_stub():
    assert isinstance(ch06.check_input_sizes(stub), NotAttempted)
    assert isinstance(ch06.check_input_sizes(None), NotAttempted)


# ---- Exercise 6.2: attention over one token --------------------------------------------------


def as_dense(attention):
    _, _, _, _, wv, bv, wo, bo = [np.asarray(w) for w in attention.get_weights()]
    dim = wv.shape[0]
    wv, bv, wo = wv.reshape(dim, -1), bv.reshape(-1), wo.reshape(-1, dim)
    return wv @ wo, bv @ wo + bo


def test_as_dense_right():
    assert ch06.check_as_dense(as_dense)


def without_value_bias(attention):
    w, _ = as_dense(attention)
    return w, np.asarray(attention.get_weights()[7])


def with_query(attention):
    wq = np.asarray(attention.get_weights()[0])
    w, b = as_dense(attention)
    return w + wq.reshape(wq.shape[0], -1)[:, : w.shape[1]], b


def value_kernel_as_is(attention):
    wv = np.asarray(attention.get_weights()[4])  # (D, heads, key_dim), not reshaped
    return wv, np.zeros(wv.shape[0])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (without_value_bias, "value bias"),
        (with_query, "Query and key weights play no part"),
        (value_kernel_as_is, "must be"),
        (lambda attention: as_dense(attention)[0], "two arrays"),
    ],
)
def test_as_dense_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch06.check_as_dense(wrong)


def test_as_dense_stub():
    assert isinstance(ch06.check_as_dense(stub), NotAttempted)


# ---- Exercise 6.3: nine tokens with a class token ---------------------------------------------


def nine_token_classifier(num_classes, class_token=True, pool="class", project="tokens"):
    features = keras.Input((3, 3, 2048))
    if project == "flatten":  # the reader's first layer
        x = layers.Dense(9 * 256)(layers.Flatten()(features))
        x = layers.Reshape((9, 256))(x)
        x = PatchEncoder(9, 256, class_token=class_token)(layers.Dense(256)(x))
    else:
        x = layers.Reshape((9, 2048))(features)
        x = PatchEncoder(9, 256, class_token=class_token)(x)
    for _ in range(2):
        x = TransformerBlock(4, 64, [512, 256])(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    if pool == "class":
        x = x[:, 0]
    elif pool == "first_cell":  # the state of the top-left cell's token, not the class token's
        x = x[:, 1]
    else:
        x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(features, layers.Dense(num_classes)(x))


def without_positions(model):
    """The right model with its position table zeroed: the nine cells' order is lost."""
    for weight in model.weights:
        if weight.path.endswith("table"):
            weight.assign(np.zeros(weight.shape, "float32"))
    return model


def test_nine_token_classifier_right():
    assert ch06.check_nine_token_classifier(nine_token_classifier)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n: nine_token_classifier(n, class_token=False, pool="gap"), "class token"),
        (lambda n: nine_token_classifier(n, project="flatten"), "flattened features"),
        (lambda n: nine_token_classifier(n + 1), r"\(None, 10\)"),
        (lambda n: without_positions(nine_token_classifier(n)), "cannot tell where a cell"),
        (lambda n: keras.Sequential([keras.Input((9, 2048)), layers.Dense(n)]), "inputs of shape"),
        (lambda n: "model", "return a keras.Model"),
    ],
)
def test_nine_token_classifier_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch06.check_nine_token_classifier(wrong)


def test_nine_token_classifier_order_outside_positions():
    """Reading one cell's token instead of the class token: right count, but the order of the cells matters."""
    with pytest.raises(AssertionError, match="something other than the positions"):
        ch06.check_nine_token_classifier(lambda n: nine_token_classifier(n, pool="first_cell"))


def test_nine_token_classifier_stub():
    assert isinstance(ch06.check_nine_token_classifier(stub), NotAttempted)
