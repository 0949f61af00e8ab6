"""The checkers of chapter 05, each with a right answer and wrong ones (any backend)."""

import math

import numpy as np
import pytest

from vitcourse.exercises import ch05

# ---- Exercise 5.1: training_steps ----------------------------------------------------------


def training_steps(num_images, batch_size, epochs):
    per_epoch = math.ceil(num_images / batch_size)
    return per_epoch, per_epoch * epochs


def steps_floor(num_images, batch_size, epochs):
    per_epoch = num_images // batch_size
    return per_epoch, per_epoch * epochs


def steps_float(num_images, batch_size, epochs):
    per_epoch = num_images / batch_size
    return per_epoch, per_epoch * epochs


def steps_total_is_images(num_images, batch_size, epochs):
    per_epoch = math.ceil(num_images / batch_size)
    return per_epoch, num_images * epochs


def test_check_training_steps_right():
    assert ch05.check_training_steps(training_steps)


@pytest.mark.parametrize(
    "wrong, hint",
    [(steps_floor, "ceil"), (steps_float, "whole numbers"), (steps_total_is_images, "total_steps")],
)
def test_check_training_steps_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_training_steps(wrong)


# ---- Exercise 5.2: warmup-cosine learning rate ---------------------------------------------


def learning_rate(step, peak, total_steps, warmup_steps):
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def cosine_ignoring_warmup(step, peak, total_steps, warmup_steps):
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = min(step / total_steps, 1.0)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def no_warmup(step, peak, total_steps, warmup_steps):
    progress = min(step / total_steps, 1.0)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def cosine_restarting(step, peak, total_steps, warmup_steps):  # no clamp at the end
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def returns_text(step, peak, total_steps, warmup_steps):
    return "about 1e-3"


def test_check_warmup_cosine_right():
    assert ch05.check_warmup_cosine(learning_rate)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (cosine_ignoring_warmup, "cosine starts where warmup ends"),
        (no_warmup, "warmup the rate grows linearly"),
        (cosine_restarting, "stays at 0"),
        (returns_text, "number"),
    ],
)
def test_check_warmup_cosine_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_warmup_cosine(wrong)


# ---- Exercise 5.3: top5_accuracy -----------------------------------------------------------


def top5_accuracy(logits, labels):
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return float((top5 == labels[:, None]).any(axis=1).mean())


def top1_accuracy(logits, labels):
    return float((logits.argmax(axis=1) == labels).mean())


def smallest_five(logits, labels):
    top5 = np.argsort(logits, axis=1)[:, :5]
    return float((top5 == labels[:, None]).any(axis=1).mean())


def count_not_share(logits, labels):
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return int((top5 == labels[:, None]).any(axis=1).sum())


def top4_accuracy(logits, labels):
    top4 = np.argsort(-logits, axis=1)[:, :4]
    return float((top4 == labels[:, None]).any(axis=1).mean())


def sorts_in_place(logits, labels):
    logits.sort(axis=1)
    return 0.5


def test_check_top5_accuracy_right():
    assert ch05.check_top5_accuracy(top5_accuracy)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (top1_accuracy, "top-1"),
        (smallest_five, "SMALLEST"),
        (count_not_share, "divide"),
        (top4_accuracy, "evaluate gives"),
        (sorts_in_place, "changed the logits"),
    ],
)
def test_check_top5_accuracy_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_top5_accuracy(wrong)


# ---- Exercise 5.4: prediction_titles -------------------------------------------------------


def prediction_titles(image_ids, y_true, y_pred, label_names):
    return [(label_names[y_true[i]], label_names[y_pred[i]]) for i in image_ids]


def titles_by_position(image_ids, y_true, y_pred, label_names):  # seed 001
    return [(label_names[y_true[k]], label_names[y_pred[k]]) for k in range(len(image_ids))]


def titles_swapped(image_ids, y_true, y_pred, label_names):
    return [(label_names[y_pred[i]], label_names[y_true[i]]) for i in image_ids]


def titles_as_indices(image_ids, y_true, y_pred, label_names):
    return [(y_true[i], y_pred[i]) for i in image_ids]


def test_check_prediction_titles_right():
    assert ch05.check_prediction_titles(prediction_titles)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (titles_by_position, "seed 001"),
        (titles_swapped, r"\(predicted, true\)"),
        (titles_as_indices, "label_names"),
        (lambda ids, t, p, names: [], "one"),
    ],
)
def test_check_prediction_titles_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_prediction_titles(wrong)
