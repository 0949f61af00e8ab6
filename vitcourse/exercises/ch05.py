"""Checkers for chapter 05, "Training a ViT on CIFAR-100".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and calls
:func:`vitcourse.exercises.passed` when it is right. The references are the
package's own code: :class:`vitcourse.training.WarmupCosine` and
:func:`vitcourse.training.evaluate`.
"""

import math

import keras
import numpy as np

from vitcourse.exercises import expect, passed
from vitcourse.training import WarmupCosine, evaluate


def _is_count(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ---- Exercise 5.1: steps per epoch and total steps -----------------------------------------

_STEP_CASES = [  # (images, batch_size, epochs)
    (50_000, 256, 100),  # CIFAR-100 with keras.io's recipe
    (5_000, 128, 5),  # quick mode
    (256, 64, 2),  # smoke mode
    (1_000, 1_000, 3),
    (10, 3, 4),
]


def check_training_steps(training_steps):
    """Exercise 5.1: ``training_steps(num_images, batch_size, epochs)``.

    Returns ``(steps_per_epoch, total_steps)``: the optimizer steps of one epoch
    (the last, smaller batch counts) and of the whole run, which is what a
    learning-rate schedule counts in.
    """
    for images, batch_size, epochs in _STEP_CASES:
        answer = training_steps(images, batch_size, epochs)
        expect(
            isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"training_steps returned {answer!r}; return a pair (steps_per_epoch, total_steps).",
        )
        per_epoch, total = answer
        expect(
            _is_count(per_epoch) and _is_count(total),
            f"training_steps({images}, {batch_size}, {epochs}) returned {answer!r}; steps are "
            "whole numbers (int), not floats.",
        )
        expected = math.ceil(images / batch_size)
        if per_epoch == images // batch_size and per_epoch != expected:
            raise AssertionError(
                f"Not yet: {images} images in batches of {batch_size} make {images // batch_size} "
                f"full batches and one smaller batch of {images % batch_size}; Keras trains on "
                "that one too. Round up: math.ceil(num_images / batch_size)."
            )
        expect(
            per_epoch == expected,
            f"training_steps({images}, {batch_size}, {epochs}) gives {per_epoch} steps per epoch; "
            "one step is one batch of batch_size images.",
        )
        expect(
            total == expected * epochs,
            f"training_steps({images}, {batch_size}, {epochs}) gives total_steps={total}; "
            "every epoch takes steps_per_epoch steps.",
        )
    return passed("Exercise 5.1 (training_steps)")


# ---- Exercise 5.2: the warmup-cosine learning rate -----------------------------------------

_SCHEDULE_CASES = [  # (peak, total_steps, warmup_steps)
    (1e-3, 19_600, 1_960),
    (1e-3, 100, 10),
    (5e-4, 1_000, 0),
    (2e-3, 50, 50),
]


def _reference_rate(peak, total_steps, warmup_steps, step):
    schedule = WarmupCosine(peak, total_steps=total_steps, warmup_steps=warmup_steps)
    return float(keras.ops.convert_to_numpy(schedule(step)))


def check_warmup_cosine(learning_rate):
    """Exercise 5.2: ``learning_rate(step, peak, total_steps, warmup_steps)`` in plain Python.

    Linear warmup from 0 to ``peak`` over ``warmup_steps``, then a half cosine
    from ``peak`` down to 0 at ``total_steps``, and 0 after that: what
    :class:`vitcourse.training.WarmupCosine` computes (with its default
    ``final_learning_rate=0``).
    """
    for peak, total, warmup in _SCHEDULE_CASES:
        steps = sorted({0, warmup // 2, warmup, (warmup + total) // 2, total - 1, total, total + 7})
        for step in steps:
            got = learning_rate(step, peak, total, warmup)
            try:
                got = float(got)
            except (TypeError, ValueError):
                raise AssertionError(
                    f"Not yet: learning_rate({step}, {peak}, {total}, {warmup}) returned {got!r}; "
                    "return a number."
                ) from None
            expected = _reference_rate(peak, total, warmup, step)
            if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-9):
                continue
            where = "during warmup" if step < warmup else ("after the end" if step >= total else "during decay")
            hint = f"learning_rate({step}, {peak}, {total}, {warmup}) = {got:.6g}, expected {expected:.6g} ({where}). "
            if step < warmup:
                hint += "During warmup the rate grows linearly: peak * step / warmup_steps."
            elif step >= total:
                hint += "After total_steps the rate stays at 0."
            else:
                hint += (
                    "The cosine starts where warmup ends: progress = (step - warmup_steps) / "
                    "(total_steps - warmup_steps), rate = peak * 0.5 * (1 + cos(pi * progress))."
                )
            raise AssertionError("Not yet: " + hint)
    return passed("Exercise 5.2 (warmup-cosine learning rate)")


# ---- Exercise 5.3: top-5 accuracy from logits ----------------------------------------------


def _identity_model(num_classes):
    # A model that outputs its input, so evaluate() scores the logits we hand it.
    inputs = keras.Input((num_classes,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def check_top5_accuracy(top5_accuracy):
    """Exercise 5.3: ``top5_accuracy(logits, labels) -> float`` in numpy.

    The share of images whose true class is among the five largest logits;
    checked against :func:`vitcourse.training.evaluate`.
    """
    rng = np.random.default_rng(5)
    for n, classes in ((64, 100), (33, 10), (12, 6)):
        logits = rng.normal(size=(n, classes)).astype("float32")
        labels = rng.integers(0, classes, size=n).astype("int64")
        # Make some right, some in the top 5 but not first, some far off.
        order = np.argsort(-logits, axis=1)
        labels[: n // 3] = order[: n // 3, 0]
        labels[n // 3 : 2 * n // 3] = order[n // 3 : 2 * n // 3, 3]
        original = logits.copy()
        got = top5_accuracy(logits, labels)
        expect(np.array_equal(logits, original), "top5_accuracy changed the logits; work on a copy.")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise AssertionError(f"Not yet: top5_accuracy returned {got!r}; return one number.") from None
        expected = evaluate(_identity_model(classes), logits, labels, batch_size=n)["top5_accuracy"]
        top1 = float((logits.argmax(axis=1) == labels).mean())
        if math.isclose(got, top1, abs_tol=1e-6) and not math.isclose(top1, expected, abs_tol=1e-6):
            raise AssertionError(
                "Not yet: that is top-1 accuracy (the largest logit only). Count an image as "
                "right when its label is among the five largest logits."
            )
        smallest = float((np.argsort(logits, axis=1)[:, :5] == labels[:, None]).any(axis=1).mean())
        if math.isclose(got, smallest, abs_tol=1e-6) and not math.isclose(smallest, expected, abs_tol=1e-6):
            raise AssertionError(
                "Not yet: those are the five SMALLEST logits. np.argsort sorts in increasing "
                "order: take the last five columns, or sort -logits."
            )
        if got > 1.0 + 1e-9:
            raise AssertionError(
                f"Not yet: top5_accuracy returned {got:.4g}, more than 1. Accuracy is a share of "
                "images: divide the count by the number of images."
            )
        expect(
            math.isclose(got, expected, abs_tol=1e-6),
            f"top5_accuracy gives {got:.4f} on {n} images of {classes} classes, but "
            f"vitcourse.training.evaluate gives {expected:.4f}.",
        )
    return passed("Exercise 5.3 (top5_accuracy)")


# ---- Exercise 5.4: titles that match their images (seed 001's mix-up) ----------------------


def check_prediction_titles(prediction_titles):
    """Exercise 5.4: ``prediction_titles(image_ids, y_true, y_pred, label_names)``.

    The plot shows ``x_test[image_ids[k]]`` in its k-th panel; return, for each
    panel, the pair ``(true_name, predicted_name)`` of that same image.
    """
    rng = np.random.default_rng(7)
    names = [f"class_{c}" for c in range(12)]
    y_true = rng.integers(0, 12, size=40)
    y_pred = rng.integers(0, 12, size=40)
    image_ids = rng.choice(40, size=9, replace=False)
    got = prediction_titles(image_ids, y_true, y_pred, names)
    expect(
        isinstance(got, (list, tuple)) and len(got) == len(image_ids),
        f"prediction_titles returned {type(got).__name__} of length "
        f"{len(got) if hasattr(got, '__len__') else '?'}; return one (true, predicted) pair per image id "
        f"({len(image_ids)} here).",
    )
    expected = [(names[y_true[i]], names[y_pred[i]]) for i in image_ids]
    got = [tuple(pair) for pair in got]
    by_position = [(names[y_true[k]], names[y_pred[k]]) for k in range(len(image_ids))]
    if got == by_position and got != expected:
        raise AssertionError(
            "Not yet: this is seed 001's mix-up. Panel k shows the image x_test[image_ids[k]], "
            "but its names were looked up with k. Use the same index for the image and "
            "its labels: y_true[image_ids[k]]."
        )
    swapped = [(p, t) for t, p in expected]
    if got == swapped and got != expected:
        raise AssertionError("Not yet: the pairs are (predicted, true); return (true, predicted).")
    for k, (pair, right) in enumerate(zip(got, expected)):
        expect(
            pair == right,
            f"Panel {k} (image {image_ids[k]}) is titled {pair}, expected {right}: look the label "
            "index up in label_names to get a name.",
        )
    return passed("Exercise 5.4 (prediction_titles)")
