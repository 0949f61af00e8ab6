"""The checkers of chapter 08 accept right answers and reject wrong ones with a hint."""

import itertools

import keras
import numpy as np
import pytest

from vitcourse.exercises import NotAttempted, ch08
from vitcourse.inspection import position_layer
from vitcourse.presets import build_model


# ---- Exercise 8.1 ----


def mixed(maps):
    return 0.5 * maps.mean(axis=1) + 0.5 * np.eye(maps.shape[-1])


def right_rollout(first, second):
    rollout = mixed(second) @ mixed(first)  # (B, N, N): later blocks on the left
    row = rollout.mean(axis=1)
    grid = int(np.sqrt(row.shape[-1]))
    return row.reshape(-1, grid, grid)


def test_rollout_right():
    assert ch08.check_rollout_two_blocks(right_rollout)
    assert ch08.check_rollout_two_blocks(lambda a, b: right_rollout(a, b).reshape(len(a), -1))  # (B, N) too


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda a, b: (b.mean(1) @ a.mean(1)).mean(axis=1), "residual"),
        (lambda a, b: (mixed(a) @ mixed(b)).mean(axis=1), "order of the product"),
        (lambda a, b: (mixed(b) @ mixed(a)).mean(axis=2), "average the rows"),
        (lambda a, b: (mixed(b) @ mixed(a))[:, 0], "no class token"),
        (lambda a, b: ((0.5 * b[:, 0] + 0.5 * np.eye(16)) @ (0.5 * a[:, 0] + 0.5 * np.eye(16))).mean(axis=1), "one head"),
        (lambda a, b: (mixed(b) + mixed(a)).mean(axis=1), "average the heads"),
        (lambda a, b: np.zeros((2, 3)), "shape"),
    ],
)
def test_rollout_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch08.check_rollout_two_blocks(wrong)


def test_rollout_stub():
    def stub(first, second):
        raise NotImplementedError("Exercise 8.1")

    assert isinstance(ch08.check_rollout_two_blocks(stub), NotAttempted)
    assert isinstance(ch08.check_rollout_two_blocks(None), NotAttempted)


# ---- Exercise 8.2 ----


def right_distance(grid, patch_pixels):
    centres = [(r * patch_pixels, c * patch_pixels) for r, c in itertools.product(range(grid), repeat=2)]
    return float(np.mean([np.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.product(centres, repeat=2)]))


def test_uniform_distance_right():
    assert ch08.check_uniform_distance(right_distance)
    assert ch08.uniform_distance(2, 1) == pytest.approx((0 + 1 + 1 + np.sqrt(2)) / 4)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda g, p: right_distance(g, p) * g * g / (g * g - 1), "distance to itself"),
        (lambda g, p: right_distance(g, 1), "multiply by patch_pixels"),
        (lambda g, p: ch08._manhattan(g) * p, "city-block"),
        (lambda g, p: 0.4 * g * p, "Euclidean distance of every pair"),
        (lambda g, p: "far", "one number"),
    ],
)
def test_uniform_distance_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch08.check_uniform_distance(wrong)


def test_uniform_distance_stub():
    def stub(grid, patch_pixels):
        raise NotImplementedError("Exercise 8.2")

    assert isinstance(ch08.check_uniform_distance(stub), NotAttempted)


# ---- Exercise 8.3 ----

SMALL_DIGITS = dict(input_shape=(16, 16, 3), patch_size=4, num_classes=10, depth=2, projection_dim=32,
                    num_heads=2, mlp_units=(64, 32), augmentation="none", dropout=0.0)


def test_class_token_vit_right():
    result = ch08.check_class_token_vit(
        lambda: build_model("course_vit", **SMALL_DIGITS, class_token=True, pooling="class_token")
    )
    assert result and "(8, 4, 4)" in repr(result)


@pytest.mark.parametrize(
    "overrides, hint",
    [
        (dict(), "no class token"),
        (dict(class_token=True), "head reads average_tokens"),
        (dict(class_token=True, pooling="class_token", input_shape=(32, 32, 3)), r"\(16, 16, 3\)"),
        (dict(class_token=True, pooling="class_token", num_classes=5), "10 digits"),
        (dict(class_token=True, pooling="class_token", patch_size=2), "4x4 grid"),
        (dict(class_token=True, pooling="class_token", projection_dim=256, mlp_units=(512, 256)), "parameters"),
        (dict(class_token=True, pooling="class_token", learning_rate=0.0), None),
    ],
)
def test_class_token_vit_wrong(overrides, hint):
    if hint is None:  # an untrainable model: frozen, so the checker's 3 epochs teach it nothing
        def frozen():
            model = build_model("course_vit", **{**SMALL_DIGITS, **overrides})
            model.trainable = False
            return model

        with pytest.raises(AssertionError, match="test digits right"):
            ch08.check_class_token_vit(frozen)
        return
    with pytest.raises(AssertionError, match=hint):
        ch08.check_class_token_vit(lambda: build_model("course_vit", **{**SMALL_DIGITS, **overrides}))


def test_class_token_vit_not_a_vit():
    def dense():
        return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])

    with pytest.raises(AssertionError, match="build_model"):
        ch08.check_class_token_vit(dense)


def test_class_token_vit_stub():
    def stub():
        raise NotImplementedError("Exercise 8.3")

    assert isinstance(ch08.check_class_token_vit(stub), NotAttempted)


# ---- Exercise 8.4 ----

SMALL_PHOTOS = dict(input_shape=(32, 32, 3), patch_size=8, num_classes=10, depth=1, projection_dim=16,
                    num_heads=2, mlp_units=(32, 16))


@pytest.fixture(scope="module")
def pair():
    keras.utils.set_random_seed(0)
    original = build_model("course_vit", **SMALL_PHOTOS)
    positions = position_layer(original).table
    positions.assign(np.random.default_rng(0).normal(scale=3.0, size=positions.shape).astype("float32"))
    changed = build_model("course_vit", **SMALL_PHOTOS)
    changed.set_weights(original.get_weights())
    position_layer(changed).table.assign(np.zeros(positions.shape, "float32"))
    images = ch08.photograph_crops(ch08.AGREEMENT_IMAGES).astype("float32")
    return original, changed, ch08.agreement(original, changed, images)


def test_without_positions_right(pair):
    original, changed, measured = pair
    assert ch08.check_without_positions(original, changed, measured)
    assert ch08.check_without_positions(original, changed, min(1.0, measured + 0.01))


def test_without_positions_wrong(pair):
    original, changed, measured = pair
    with pytest.raises(AssertionError, match="not the original"):
        ch08.check_without_positions(original, original, measured)
    copy = build_model("course_vit", **SMALL_PHOTOS)
    copy.set_weights(original.get_weights())
    with pytest.raises(AssertionError, match="not zero"):
        ch08.check_without_positions(original, copy, measured)
    other = build_model("course_vit", **SMALL_PHOTOS)  # its own random weights
    position_layer(other).table.assign(np.zeros(position_layer(other).table.shape, "float32"))
    with pytest.raises(AssertionError, match="more than the position table"):
        ch08.check_without_positions(original, other, measured)
    with pytest.raises(AssertionError, match="you changed the original"):
        ch08.check_without_positions(changed, copy, measured)
    with pytest.raises(AssertionError, match="between 0 and 1"):
        ch08.check_without_positions(original, changed, 64)
    if abs(measured - 0.5) > 0.05:
        with pytest.raises(AssertionError, match="share of crops whose prediction changed"):
            ch08.check_without_positions(original, changed, 1.0 - measured)
    # a wrong measurement: far from the right one and from its complement (which has its own hint)
    far = next(v for v in (measured + 0.2, measured - 0.2, measured + 0.1, measured - 0.1)
               if 0 <= v <= 1 and abs(v - (1 - measured)) > 0.05)
    with pytest.raises(AssertionError, match="the checker measures"):
        ch08.check_without_positions(original, changed, far)


def test_without_positions_stub(pair):
    original, _, _ = pair
    assert isinstance(ch08.check_without_positions(original, None, None), NotAttempted)
