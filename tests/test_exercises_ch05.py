"""The checkers of chapter 05, each with a right answer and wrong ones (any backend)."""

import math

import keras
import numpy as np
import pytest

from vitcourse.exercises import NotAttempted, ch05
from vitcourse.presets import build_model
from vitcourse.training import TrainResult, train

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


def training_steps_array(num_images, batch_size, epochs):  # an array of two counts is a pair too
    per_epoch = -(-num_images // batch_size)
    return np.array([per_epoch, per_epoch * epochs])


def steps_floor_array(num_images, batch_size, epochs):
    return np.array(steps_floor(num_images, batch_size, epochs))


def steps_total_is_images(num_images, batch_size, epochs):
    per_epoch = math.ceil(num_images / batch_size)
    return per_epoch, num_images * epochs


def test_check_training_steps_right():
    assert ch05.check_training_steps(training_steps)
    assert ch05.check_training_steps(training_steps_array)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (steps_floor, "ceil"),
        (steps_floor_array, "ceil"),
        (steps_float, "whole numbers"),
        (steps_total_is_images, "total_steps"),
        (lambda n, b, e: np.array([1, 2, 3]), "a pair"),
    ],
)
def test_check_training_steps_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_training_steps(wrong)


# ---- Exercise 5.2: warmup, then cosine down to a floor ------------------------------------


def learning_rate(step, peak, total_steps, warmup_steps, final_fraction):
    if step < warmup_steps:
        return peak * step / warmup_steps
    floor = final_fraction * peak
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def learning_rate_numpy(step, peak, total_steps, warmup_steps, final_fraction):  # a 0-d array is a number
    floor = final_fraction * peak
    progress = np.clip((step - warmup_steps) / max(total_steps - warmup_steps, 1), 0.0, 1.0)
    cosine = floor + (peak - floor) * 0.5 * (1 + np.cos(np.pi * progress))
    return np.where(step < warmup_steps, peak * step / max(warmup_steps, 1), cosine)


def cosine_ignoring_warmup(step, peak, total_steps, warmup_steps, final_fraction):
    if step < warmup_steps:
        return peak * step / warmup_steps
    floor = final_fraction * peak
    progress = min(step / total_steps, 1.0)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def no_warmup(step, peak, total_steps, warmup_steps, final_fraction):
    floor = final_fraction * peak
    progress = min(step / total_steps, 1.0)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def cosine_restarting(step, peak, total_steps, warmup_steps, final_fraction):  # no clamp at the end
    if step < warmup_steps:
        return peak * step / warmup_steps
    floor = final_fraction * peak
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def floor_ignored(step, peak, total_steps, warmup_steps, final_fraction):
    return learning_rate(step, peak, total_steps, warmup_steps, 0.0)


def floor_clipped(step, peak, total_steps, warmup_steps, final_fraction):
    if step < warmup_steps:
        return peak * step / warmup_steps
    return max(floor_ignored(step, peak, total_steps, warmup_steps, final_fraction), final_fraction * peak)


def returns_text(step, peak, total_steps, warmup_steps, final_fraction):
    return "about 1e-3"


def test_check_warmup_cosine_right():
    assert ch05.check_warmup_cosine(learning_rate)
    assert ch05.check_warmup_cosine(learning_rate_numpy)


def test_library_schedule_is_the_first_principles_one():
    """The checker's reference, Keras' CosineDecay with warmup, is the formula the chapter teaches."""
    for peak, total, warmup, fraction in ch05._SCHEDULE_CASES:
        schedule = ch05.library_schedule(peak, total, warmup, fraction)
        for step in range(0, total + 10, max(total // 37, 1)):
            expected = learning_rate(step, peak, total, warmup, fraction)
            assert math.isclose(ch05._rate(schedule, step), expected, rel_tol=1e-4, abs_tol=1e-9)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (cosine_ignoring_warmup, "cosine starts where warmup ends"),
        (no_warmup, "warmup the rate grows linearly"),
        (cosine_restarting, "stays at the floor"),
        (floor_ignored, "cosine down to 0"),
        (floor_clipped, "not a clip"),
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


def prediction_titles_array(image_ids, y_true, y_pred, label_names):  # an (n, 2) array is an answer too
    names = np.array(label_names)
    return np.stack([names[y_true[image_ids]], names[y_pred[image_ids]]], axis=1)


def titles_by_position(image_ids, y_true, y_pred, label_names):  # the Keras ViT study notes' bug
    return [(label_names[y_true[k]], label_names[y_pred[k]]) for k in range(len(image_ids))]


def titles_by_position_array(image_ids, y_true, y_pred, label_names):
    return np.array(titles_by_position(image_ids, y_true, y_pred, label_names))


def titles_swapped(image_ids, y_true, y_pred, label_names):
    return [(label_names[y_pred[i]], label_names[y_true[i]]) for i in image_ids]


def titles_as_indices(image_ids, y_true, y_pred, label_names):
    return [(y_true[i], y_pred[i]) for i in image_ids]


def true_names_only(image_ids, y_true, y_pred, label_names):
    return [label_names[y_true[i]] for i in image_ids]


def test_check_prediction_titles_right():
    assert ch05.check_prediction_titles(prediction_titles)
    assert ch05.check_prediction_titles(prediction_titles_array)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (titles_by_position, "study notes' mix-up"),
        (titles_by_position_array, "study notes' mix-up"),
        (titles_swapped, r"\(predicted, true\)"),
        (titles_as_indices, "label_names"),
        (true_names_only, "one \(true_name, predicted_name\) pair per panel"),
        (lambda ids, t, p, names: [], "0 pairs for 9 panels"),
    ],
)
def test_check_prediction_titles_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_prediction_titles(wrong)


# ---- Exercise 5.5: train_on_digits ---------------------------------------------------------


def _digits_vit(**overrides):
    settings = dict(input_shape=(16, 16, 3), num_classes=10, depth=1, augmentation="none")
    settings.update(overrides)
    return build_model("course_vit", **settings)


def train_on_digits(data, out_dir):
    return train(_digits_vit(), data, out_dir, epochs=3, batch_size=64, verbose=0)


def _saved_untrained(model, out_dir):
    """What train leaves, minus the training: the wrong answers below fail on what they build."""
    out_dir.mkdir(parents=True)
    model.save(out_dir / "best.keras")
    return TrainResult(history={}, best_val_accuracy=None, wall_time_s=0.0, out_dir=out_dir, model=model)


_TINY = dict(projection_dim=32, key_dim=8, mlp_units=(64, 32))


def train_for_cifar100(data, out_dir):  # 100 outputs for 10 digits (train accepts it)
    return _saved_untrained(_digits_vit(num_classes=100, **_TINY), out_dir)


def train_too_big(data, out_dir):
    return _saved_untrained(_digits_vit(projection_dim=256, key_dim=64, mlp_units=(512, 256)), out_dir)


def train_barely(data, out_dir):  # a checkpoint that learned nothing: chance accuracy
    keras.utils.set_random_seed(0)
    return _saved_untrained(_digits_vit(**_TINY), out_dir)


def train_elsewhere(data, out_dir):  # trains, but not into out_dir
    return _saved_untrained(_digits_vit(**_TINY), out_dir.parent / "somewhere_else")


def returns_the_model(data, out_dir):
    return train_barely(data, out_dir).model


def test_check_train_on_digits_right():
    solved = ch05.check_train_on_digits(train_on_digits)
    assert solved and "test accuracy" in repr(solved)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (train_for_cifar100, "100 outputs"),
        (train_too_big, "parameters"),
        (train_barely, "chance is 10%"),
        (returns_the_model, "TrainResult"),
        (train_elsewhere, "no best.keras in out_dir"),
    ],
)
def test_check_train_on_digits_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch05.check_train_on_digits(wrong)


# ---- Stubs of the student version: "not attempted yet", no traceback -----------------------


def _stub(*args):
    raise NotImplementedError("Exercise 5.x: write it here.")


@pytest.mark.parametrize(
    "check",
    [
        ch05.check_training_steps,
        ch05.check_warmup_cosine,
        ch05.check_top5_accuracy,
        ch05.check_prediction_titles,
        ch05.check_train_on_digits,
    ],
)
@pytest.mark.parametrize("stub", [None, _stub])
def test_stubs_are_not_attempted(check, stub):
    result = check(stub)
    assert isinstance(result, NotAttempted) and not result
    assert "not attempted yet" in repr(result)
