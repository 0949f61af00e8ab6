"""The checkers of chapter 09, each with a right answer, wrong ones (reaching each hint) and the stub."""

import keras
import numpy as np
import pytest

from vitcourse.exercises import NotAttempted, ch09
from vitcourse.finetune import average_weights
from vitcourse.presets import build_model

# ---- Exercise 9.1: a new head on a frozen backbone -------------------------------------------


def new_head_frozen(model, num_classes):
    features = model.get_layer("classifier").input
    outputs = keras.layers.Dense(num_classes, name="new_head")(features)
    new = keras.Model(model.input, outputs)
    for layer in new.layers[:-1]:
        layer.trainable = False
    return new


def head_not_frozen(model, num_classes):
    outputs = keras.layers.Dense(num_classes)(model.get_layer("classifier").input)
    return keras.Model(model.input, outputs)


def everything_frozen(model, num_classes):
    new = new_head_frozen(model, num_classes)
    new.trainable = False
    return new


def rebuilt(model, num_classes):  # a fresh model: the pretrained weights are lost
    return new_head_frozen(build_model("course_vit", depth=1, num_classes=10), num_classes)


def head_on_the_logits(model, num_classes):  # a head on the old 10 logits, not on the features
    outputs = keras.layers.Dense(num_classes)(model.output)
    new = keras.Model(model.input, outputs)
    for layer in new.layers[:-1]:
        layer.trainable = False
    return new


def wrong_classes(model, num_classes):
    return new_head_frozen(model, num_classes + 1)


def frozen_after_compile(model, num_classes):
    """Freezes by hand-picking weights: the frozen LayerNormalization still trains."""
    new = new_head_frozen(model, num_classes)
    new.get_layer("final_norm").trainable = True
    return new


def not_a_model(model, num_classes):
    return model.get_layer("classifier")


def stub(*args):
    raise NotImplementedError("Exercise 9.x: write your answer here")


def test_check_new_head_right():
    assert ch09.check_new_head(new_head_frozen)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (not_a_model, "keras.Model"),
        (wrong_classes, "one logit per new class"),
        (head_not_frozen, "every layer of the backbone"),
        (everything_frozen, "nothing in the model is trainable"),
        (frozen_after_compile, "every layer of the backbone"),
        (head_on_the_logits, "input of the old classifier"),
        (rebuilt, "not the pretrained ones"),
    ],
)
def test_check_new_head_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch09.check_new_head(wrong)


def test_check_new_head_wrong_input():
    def other_input(model, num_classes):
        inputs = keras.Input((16, 16, 3))
        return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.GlobalAveragePooling2D()(inputs)))

    with pytest.raises(AssertionError, match="keep the old model's input"):
        ch09.check_new_head(other_input)


def test_check_new_head_stub():
    assert isinstance(ch09.check_new_head(None), NotAttempted)
    assert isinstance(ch09.check_new_head(stub), NotAttempted)


# ---- Exercise 9.2: the write-up's schedule ---------------------------------------------------


def write_up_schedule(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(
        0.002, decay_steps=5 * steps_per_epoch, decay_rate=0.7, staircase=True
    )


def as_function(steps_per_epoch):
    return lambda step: 0.002 * 0.7 ** (step // steps_per_epoch // 5)


def smooth(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(0.002, decay_steps=5 * steps_per_epoch, decay_rate=0.7)


def every_five_steps(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(0.002, decay_steps=5, decay_rate=0.7, staircase=True)


def every_epoch(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(0.002, decay_steps=steps_per_epoch, decay_rate=0.7, staircase=True)


def wrong_rate(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(0.02, decay_steps=5 * steps_per_epoch, decay_rate=0.7, staircase=True)


def wrong_factor(steps_per_epoch):
    return keras.optimizers.schedules.ExponentialDecay(0.002, decay_steps=5 * steps_per_epoch, decay_rate=0.5, staircase=True)


def test_check_write_up_schedule_right():
    assert ch09.check_write_up_schedule(write_up_schedule)
    assert ch09.check_write_up_schedule(as_function)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda steps_per_epoch: 0.002, "return a schedule"),
        (wrong_rate, "starts at 0.002"),
        (smooth, "staircase=True"),
        (every_epoch, "decay_steps=5"),
        (every_five_steps, "decay_steps=5"),
        (wrong_factor, r"0.7 \*\*"),
    ],
)
def test_check_write_up_schedule_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch09.check_write_up_schedule(wrong)


def test_check_write_up_schedule_stub():
    assert isinstance(ch09.check_write_up_schedule(None), NotAttempted)
    assert isinstance(ch09.check_write_up_schedule(stub), NotAttempted)


# ---- Exercise 9.3: the average of the best checkpoints ---------------------------------------


def average_best(checkpoints, accuracies, k=3):
    best = np.argsort(accuracies)[::-1][:k]
    return average_weights([checkpoints[i] for i in best])


def average_best_by_hand(checkpoints, accuracies, k=3):
    best = sorted(range(len(accuracies)), key=lambda i: accuracies[i], reverse=True)[:k]
    return [sum(checkpoints[i][w] for i in best) / k for w in range(len(checkpoints[0]))]


def average_last(checkpoints, accuracies, k=3):
    return average_weights(checkpoints[-k:])


def average_all(checkpoints, accuracies, k=3):
    return average_weights(checkpoints)


def average_worst(checkpoints, accuracies, k=3):
    return average_weights([checkpoints[i] for i in np.argsort(accuracies)[:k]])


def best_only(checkpoints, accuracies, k=3):
    return checkpoints[int(np.argmax(accuracies))]


def off_by_one(checkpoints, accuracies, k=3):
    return average_weights([checkpoints[i] for i in np.argsort(accuracies)[::-1][1 : k + 1]])


def test_check_average_best_right():
    assert ch09.check_average_best(average_best)
    assert ch09.check_average_best(average_best_by_hand)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (average_last, "last k"),
        (average_all, "averages all"),
        (average_worst, "worst"),
        (best_only, "one checkpoint"),
        (off_by_one, "average checkpoints"),
        (lambda checkpoints, accuracies, k=3: 0.5, "one array per weight"),
    ],
)
def test_check_average_best_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch09.check_average_best(wrong)


def test_check_average_best_stub():
    assert isinstance(ch09.check_average_best(None), NotAttempted)
    assert isinstance(ch09.check_average_best(stub), NotAttempted)
