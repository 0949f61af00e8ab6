"""Checkers for chapter 05, "Training a ViT on CIFAR-100".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and calls
:func:`vitcourse.exercises.passed` when it is right. A student stub (``None``,
or a function that raises ``NotImplementedError``) gets "not attempted yet"
(:func:`vitcourse.exercises.checker`). The references are Keras' and the
package's own code: ``keras.optimizers.schedules.CosineDecay`` (with warmup),
:func:`vitcourse.training.evaluate`, and a trained model's measured accuracy.
"""

import math
import tempfile
from pathlib import Path

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.training import evaluate


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


@checker("Exercise 5.1")
def check_training_steps(training_steps):
    """Exercise 5.1: ``training_steps(num_images, batch_size, epochs)``.

    Returns ``(steps_per_epoch, total_steps)``: the optimizer steps of one epoch
    (the last, smaller batch counts) and of the whole run, which is what a
    learning-rate schedule counts in. A tuple, a list or an array of two
    whole numbers will do.
    """
    for images, batch_size, epochs in _STEP_CASES:
        answer = training_steps(images, batch_size, epochs)
        if isinstance(answer, np.ndarray):
            answer = answer.tolist() if answer.ndim == 1 else answer
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


# ---- Exercise 5.2: warmup, then a cosine down to a floor -----------------------------------

_SCHEDULE_CASES = [  # (peak, total_steps, warmup_steps, final_fraction)
    (1e-3, 19_600, 1_960, 0.0),
    (1e-3, 100, 10, 0.1),
    (5e-4, 1_000, 0, 0.05),
    (2e-3, 50, 50, 0.2),
    (1e-3, 200, 20, 0.5),
]


def library_schedule(peak, total_steps, warmup_steps, final_fraction=0.0):
    """Keras' own warmup + cosine schedule: ``CosineDecay`` with ``warmup_target``.

    It warms up from ``initial_learning_rate`` (0 here) to ``warmup_target`` over
    ``warmup_steps``, then decays over ``decay_steps`` more steps (so
    ``total_steps - warmup_steps``, at least 1) down to ``alpha * warmup_target``.
    """
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=final_fraction,
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )


def _rate(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def _cosine(peak, floor, progress):
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-9)


@checker("Exercise 5.2")
def check_warmup_cosine(learning_rate):
    """Exercise 5.2: ``learning_rate(step, peak, total_steps, warmup_steps, final_fraction)``.

    In plain Python: linear warmup from 0 to ``peak`` over ``warmup_steps``,
    then half a cosine from ``peak`` down to ``final_fraction * peak`` at
    ``total_steps``, and that floor after. Checked against Keras'
    ``CosineDecay(initial_learning_rate=0.0, decay_steps=total_steps - warmup_steps,
    alpha=final_fraction, warmup_target=peak, warmup_steps=warmup_steps)``.
    """
    for peak, total, warmup, fraction in _SCHEDULE_CASES:
        schedule = library_schedule(peak, total, warmup, fraction)
        floor = fraction * peak
        steps = sorted({0, warmup // 2, warmup, (3 * warmup + total) // 4, (warmup + total) // 2,
                        (warmup + 3 * total) // 4, total - 1, total, total + 7})  # fmt: skip
        got = {}
        for step in steps:
            call = f"learning_rate({step}, {peak}, {total}, {warmup}, {fraction})"
            answer = learning_rate(step, peak, total, warmup, fraction)
            try:
                got[step] = float(answer)
            except (TypeError, ValueError):
                raise AssertionError(f"Not yet: {call} returned {answer!r}; return a number.") from None
        expected = {step: _rate(schedule, step) for step in steps}
        wrong = [step for step in steps if not _close(got[step], expected[step])]
        if not wrong:
            continue
        step = wrong[0]
        where = "during warmup" if step < warmup else ("after the end" if step >= total else "during decay")
        hint = (
            f"learning_rate({step}, {peak}, {total}, {warmup}, {fraction}) = {got[step]:.6g}, "
            f"expected {expected[step]:.6g} ({where}). "
        )
        after_warmup = [s for s in steps if s >= warmup]
        to_zero = {s: _cosine(peak, 0.0, min((s - warmup) / max(total - warmup, 1), 1.0)) for s in after_warmup}
        if step < warmup:
            hint += "During warmup the rate grows linearly: peak * step / warmup_steps."
        elif floor and all(_close(got[s], max(to_zero[s], floor)) for s in after_warmup):
            hint += (
                "The floor is not a clip (max(rate, floor)): the whole cosine is squeezed "
                "between peak and the floor, floor + (peak - floor) * 0.5 * (1 + cos(pi * progress))."
            )
        elif floor and all(_close(got[s], to_zero[s]) for s in after_warmup):
            hint += (
                "That is the cosine down to 0. Here it ends at the floor, final_fraction * peak: "
                "the cosine runs between peak and the floor."
            )
        elif step >= total:
            hint += "After total_steps the rate stays at the floor, final_fraction * peak."
        else:
            hint += (
                "The cosine starts where warmup ends: progress = (step - warmup_steps) / "
                "(total_steps - warmup_steps), rate = floor + (peak - floor) * 0.5 * "
                "(1 + cos(pi * progress))."
            )
        raise AssertionError("Not yet: " + hint)
    return passed("Exercise 5.2 (warmup-cosine learning rate with a floor)")


# ---- Exercise 5.3: top-5 accuracy from logits ----------------------------------------------


def _identity_model(num_classes):
    # A model that outputs its input, so evaluate() scores the logits we hand it.
    inputs = keras.Input((num_classes,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


@checker("Exercise 5.3")
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


# ---- Exercise 5.4: titles that match their images (the Keras ViT study notes' mix-up) ------


def _pairs(answer):
    """The answer as a list of (true, predicted) tuples; an array of shape (n, 2) is fine too."""
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)):
        return None
    pairs = []
    for pair in answer:
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None
        pairs.append(tuple(pair))
    return pairs


@checker("Exercise 5.4")
def check_prediction_titles(prediction_titles):
    """Exercise 5.4: ``prediction_titles(image_ids, y_true, y_pred, label_names)``.

    The plot shows ``x_test[image_ids[k]]`` in its k-th panel; return, for each
    panel, the pair ``(true_name, predicted_name)`` of that same image (a list of
    pairs, or an array of shape (panels, 2)).
    """
    rng = np.random.default_rng(7)
    names = [f"class_{c}" for c in range(12)]
    y_true = rng.integers(0, 12, size=40)
    y_pred = rng.integers(0, 12, size=40)
    image_ids = rng.choice(40, size=9, replace=False)
    answer = prediction_titles(image_ids, y_true, y_pred, names)
    got = _pairs(answer)
    expect(
        got is not None,
        f"prediction_titles returned {answer!r:.120}; return one (true_name, predicted_name) "
        f"pair per panel, e.g. a list of {len(image_ids)} tuples.",
    )
    expect(
        len(got) == len(image_ids),
        f"prediction_titles returned {len(got)} pairs for {len(image_ids)} panels; return one "
        "pair per image id.",
    )
    expected = [(names[y_true[i]], names[y_pred[i]]) for i in image_ids]
    by_position = [(names[y_true[k]], names[y_pred[k]]) for k in range(len(image_ids))]
    if got == by_position and got != expected:
        raise AssertionError(
            "Not yet: this is the Keras ViT study notes' mix-up. Panel k shows the image "
            "x_test[image_ids[k]], but its names were looked up with k. Use the same index for "
            "the image and its labels: y_true[image_ids[k]]."
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


# ---- Exercise 5.5: train, checkpoint, evaluate, measured -----------------------------------

DIGITS_SHAPE = (16, 16, 3)
DIGITS_MIN_ACCURACY = 0.3  # chance is 0.1; one block trained for 3 epochs reaches about 0.6
_MAX_PARAMETERS = 500_000


@checker("Exercise 5.5")
def check_train_on_digits(train_on_digits):
    """Exercise 5.5: ``train_on_digits(data, out_dir) -> TrainResult``.

    ``data`` is scikit-learn's digits at 16x16 (``load_digits_dataset(image_size=16)``).
    The answer builds a small ``course_vit`` for them and trains it with
    :func:`vitcourse.training.train` into ``out_dir``. The checker loads
    ``out_dir/best.keras`` in safe mode, checks its input and output shapes, and
    measures its accuracy on the test split, which training never saw: it must
    be well above chance (10%).
    """
    from vitcourse.data import load_digits_dataset
    from vitcourse.training import TrainResult

    data = load_digits_dataset(image_size=DIGITS_SHAPE[0])
    with tempfile.TemporaryDirectory(prefix="exercise-5.5-") as folder:
        out_dir = Path(folder) / "digits_run"
        result = train_on_digits(data, out_dir)
        expect(
            isinstance(result, TrainResult),
            f"train_on_digits returned {type(result).__name__}; return what "
            "vitcourse.training.train returns (a TrainResult).",
        )
        best = out_dir / "best.keras"
        found = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else "the folder was not created"
        expect(
            best.is_file(),
            f"There is no best.keras in out_dir ({found}): pass out_dir on to train, which "
            "writes the best checkpoint there.",
        )
        model = keras.saving.load_model(best)  # safe mode, no custom_objects
    input_shape = tuple(model.input_shape[1:])
    expect(
        input_shape == DIGITS_SHAPE,
        f"The checkpoint takes inputs of shape {input_shape}; the digits are {DIGITS_SHAPE}: "
        f"build_model('course_vit', input_shape={DIGITS_SHAPE}, ...).",
    )
    outputs = model.output_shape[-1]
    expect(
        outputs == data.num_classes,
        f"The checkpoint has {outputs} outputs; there are {data.num_classes} digits: "
        f"build_model('course_vit', num_classes={data.num_classes}, ...).",
    )
    expect(
        model.count_params() <= _MAX_PARAMETERS,
        f"The model has {model.count_params():,} parameters; keep it under {_MAX_PARAMETERS:,} "
        "so that it trains in seconds: one transformer block (depth=1) is enough.",
    )
    accuracy = evaluate(model, data.x_test, data.y_test)["accuracy"]
    expect(
        accuracy >= DIGITS_MIN_ACCURACY,
        f"The best checkpoint gets {accuracy:.0%} of the test digits right (chance is 10%; the "
        f"check asks for {DIGITS_MIN_ACCURACY:.0%}). Train for 3 epochs or more, with "
        "augmentation='none': course_vit's flip_shift mirrors the images (a mirrored 2 is not "
        "a 2) and standardises them with CIFAR's colour statistics.",
    )
    return passed(f"Exercise 5.5 (train_on_digits: {accuracy:.0%} test accuracy, best checkpoint)")
