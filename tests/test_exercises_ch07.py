"""The checkers of chapter 07, each with a right answer, wrong ones (reaching each hint) and the stub."""

import keras
import numpy as np
import pytest

from vitcourse.exercises import NotAttempted, ch07
from vitcourse.presets import build_model
from vitcourse.small_data import GAP_HEAD, sweep_overrides

# ---- Exercise 7.1 ------------------------------------------------------------------------------


def legacy_schedule(learning_rate, decay):
    return keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)


def test_legacy_schedule_right():
    assert ch07.check_legacy_schedule(legacy_schedule)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda lr, d: lr, "return a schedule"),
        (lambda lr, d: keras.optimizers.schedules.InverseTimeDecay(2 * lr, 1, d), "must start at"),
        (lambda lr, d: keras.optimizers.schedules.InverseTimeDecay(lr, 10, d, staircase=True), "flat"),
        (lambda lr, d: keras.optimizers.schedules.ExponentialDecay(lr, 1, d), "exponential"),
        (lambda lr, d: keras.optimizers.schedules.InverseTimeDecay(lr, 10, d), "at step 10"),
    ],
)
def test_legacy_schedule_wrong(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        ch07.check_legacy_schedule(answer)


# ---- Exercise 7.2 ------------------------------------------------------------------------------


def gap_model(depth, dim):
    return build_model("patches2x2_cifar10", **sweep_overrides(depth, dim, **GAP_HEAD))


def gap_model_learned_table(depth, dim):
    return build_model("patches2x2_cifar10", **sweep_overrides(depth, dim, **GAP_HEAD), position_embedding="learned")


def test_gap_model_right():
    assert ch07.check_gap_model(gap_model)
    assert ch07.check_gap_model(gap_model_learned_table)


def frozen(depth, dim):
    model = gap_model(depth, dim)
    model.trainable = False
    return model


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda L, D: gap_model(L, D).layers[-1], "return a keras.Model"),
        (lambda L, D: build_model("patches2x2_cifar10", **sweep_overrides(L, D)), "flatten head"),
        (lambda L, D: build_model("patches2x2_cifar10", **sweep_overrides(L, D, **GAP_HEAD), num_classes=100),
         "one value per CIFAR-10 class"),
        (lambda L, D: build_model("patches2x2_cifar10", **sweep_overrides(L, D, **{**GAP_HEAD, "head_units": (64,)})),
         "parameters"),
        (lambda L, D: build_model("patches2x2_cifar10", **sweep_overrides(L, D, **{**GAP_HEAD, "output_activation": "softmax"})),
         "softmax"),
        (lambda L, D: build_model("patches2x2_cifar10", input_shape=(16, 16, 3), **sweep_overrides(L, D, **GAP_HEAD)),
         "inputs of shape"),
        (frozen, "changed no weight"),
    ],
)  # fmt: skip
def test_gap_model_wrong(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        ch07.check_gap_model(answer)


# ---- Exercise 7.3 ------------------------------------------------------------------------------


def lsa(scores, temperature):
    scores = scores / temperature
    n = scores.shape[-1]
    scores = np.where(np.eye(n, dtype=bool), -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def softmax(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_lsa_right():
    assert ch07.check_lsa_weights(lsa)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda s, t: lsa(s, t)[..., 0], "shape"),
        (lambda s, t: np.exp(np.where(np.eye(s.shape[-1], dtype=bool), -np.inf, s / t)) * np.nan, "NaN"),
        (lambda s, t: lsa(s, t) * 2, "sum to 1"),
        (lambda s, t: softmax(s / t), "attends to itself"),
        (lambda s, t: lsa(s * t * t, t), "multiplying"),
        (lambda s, t: lsa(s, t * 2), "differ"),
        (lambda s, t: softmax(np.where(np.eye(s.shape[-1], dtype=bool), -np.inf, s / t), axis=-2), "sum to 1"),
    ],
)
def test_lsa_wrong(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        ch07.check_lsa_weights(answer)


# ---- stubs ------------------------------------------------------------------------------------------


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", [ch07.check_legacy_schedule, ch07.check_gap_model, ch07.check_lsa_weights])
def test_stubs_are_not_attempted(check):
    assert isinstance(check(stub), NotAttempted)
    assert isinstance(check(None), NotAttempted)
