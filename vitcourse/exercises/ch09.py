"""Checkers for chapter 09, "Fine-tuning a pretrained ViT".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and returns
:func:`vitcourse.exercises.passed` when it is right. A student stub (``None``,
or a function that raises ``NotImplementedError``) gets "not attempted yet"
(:func:`vitcourse.exercises.checker`). The references are Keras' own
``ExponentialDecay`` and the package's :func:`vitcourse.finetune.average_weights`;
exercise 9.1's model is checked by measuring it (its parameters, its outputs,
and what one training step changes).
"""

import math

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.finetune import average_weights

# ---- Exercise 9.1: a new head on a frozen backbone -------------------------------------------


def _small_pretrained():
    """A one-block course_vit for 10 classes, standing in for the shipped model (it is quicker)."""
    from vitcourse.presets import build_model

    keras.utils.set_random_seed(9)
    return build_model("course_vit", depth=1, num_classes=10)


def _values(weights):
    return [np.array(keras.ops.convert_to_numpy(w)) for w in weights]


@checker("Exercise 9.1")
def check_new_head(new_head_frozen, num_classes=5):
    """Exercise 9.1: ``new_head_frozen(model, num_classes)``.

    Returns a model that keeps ``model``'s backbone and its weights, puts a new
    ``Dense(num_classes)`` head on the pooled features, and freezes the rest, so
    that only the head trains. Checked on a one-block ``course_vit`` (tokens of
    128): the output shape, the trainable parameter count (``128 * num_classes +
    num_classes``), the backbone's weights, and one training step, which must
    change the head and nothing else.
    """
    model = _small_pretrained()
    width = model.get_layer("classifier").input.shape[-1]
    backbone_before = {w.path: v for w, v in zip(model.weights, _values(model.weights)) if "classifier" not in w.path}
    answer = new_head_frozen(model, num_classes)
    expect(isinstance(answer, keras.Model), f"new_head_frozen returned {type(answer).__name__}; return a keras.Model.")
    expect(
        answer.output_shape[-1] == num_classes,
        f"the model's output has {answer.output_shape[-1]} values per image; the new head needs "
        f"{num_classes}, one logit per new class: keras.layers.Dense(num_classes).",
    )
    expect(
        tuple(answer.input_shape) == tuple(model.input_shape),
        f"the model takes inputs of shape {answer.input_shape}; keep the old model's input "
        f"({model.input_shape}): keras.Model(model.input, new_outputs).",
    )
    trainable = sum(int(np.prod(w.shape)) for w in answer.trainable_weights)
    head = width * num_classes + num_classes
    expect(trainable != 0, "nothing in the model is trainable: freeze the backbone's layers, not the new head.")
    expect(
        trainable <= head,
        f"{trainable:,} parameters are trainable, the head alone has {head:,}: set `trainable = False` "
        "on every layer of the backbone (every layer but the new head).",
    )
    expect(
        trainable == head,
        f"{trainable:,} parameters are trainable; a Dense head from the {width} pooled features to "
        f"{num_classes} classes has {head:,}. Put the head on the input of the old classifier "
        "(model.get_layer('classifier').input).",
    )
    paths = {w.path: w for w in answer.weights}
    kept = [p for p in backbone_before if p in paths]
    expect(
        kept and all(np.array_equal(backbone_before[p], keras.ops.convert_to_numpy(paths[p])) for p in kept),
        "the backbone's weights are not the pretrained ones: build the new model on the old model's "
        "layers (its input and model.get_layer('classifier').input), not from a new build_model.",
    )
    # one step of training: the head moves, the backbone does not
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    labels = np.arange(8) % num_classes
    frozen = [w for w in answer.weights if not any(w is t for t in answer.trainable_weights)]
    frozen_before = _values(frozen)
    head_before = _values(answer.trainable_weights)
    answer.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    answer.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    expect(
        all(np.array_equal(a, b) for a, b in zip(frozen_before, _values(frozen))),
        "a training step changed frozen weights; freeze the layers before compiling.",
    )
    expect(
        any(not np.array_equal(a, b) for a, b in zip(head_before, _values(answer.trainable_weights))),
        "a training step did not change the head: is the head connected to the loss?",
    )
    return passed(f"Exercise 9.1 (a {num_classes}-class head with {head:,} trainable parameters)")


# ---- Exercise 9.2: the pet breeds write-up's schedule in Keras terms -------------------------


def _rate(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


@checker("Exercise 9.2")
def check_write_up_schedule(write_up_schedule):
    """Exercise 9.2: ``write_up_schedule(steps_per_epoch)``, a learning-rate schedule.

    The write-up starts at 0.002 and multiplies the learning rate by 0.7 every 5
    epochs. The schedule (a ``keras.optimizers.schedules.LearningRateSchedule``
    or any function of the step) must give ``0.002 * 0.7 ** (epoch // 5)`` at
    every optimizer step, where ``epoch = step // steps_per_epoch``.
    """
    for steps_per_epoch in (230, 12):  # 3,680 pet images in batches of 16; a small run
        schedule = write_up_schedule(steps_per_epoch)
        expect(callable(schedule), f"write_up_schedule returned {type(schedule).__name__}; return a schedule (callable).")
        first = _rate(schedule, 0)
        expect(math.isclose(first, 0.002, rel_tol=1e-4), f"the learning rate at step 0 is {first:.3g}; the write-up starts at 0.002.")
        early = _rate(schedule, 5 * steps_per_epoch - 1)  # the last step of epoch 5: still 0.002
        if not math.isclose(early, 0.002, rel_tol=1e-4):
            mid = _rate(schedule, int(2.5 * steps_per_epoch))  # a smooth decay is half a step down here
            drops = math.log(mid / 0.002) / math.log(0.7) if mid > 0 else 0.5
            if abs(drops - round(drops)) < 1e-3:  # whole steps down, too soon
                raise AssertionError(
                    f"Not yet: one step before epoch 5 the learning rate is already {early:.3g}; a schedule "
                    f"counts optimizer steps: five epochs are decay_steps=5 * steps_per_epoch = "
                    f"{5 * steps_per_epoch} steps."
                )
            raise AssertionError(
                f"Not yet: one step before epoch 5 the learning rate is {early:.3g}; the write-up keeps 0.002 "
                "for five whole epochs and then steps down: staircase=True."
            )
        for epoch in (5, 9, 10, 17, 29, 30):
            step = epoch * steps_per_epoch
            expected = 0.002 * 0.7 ** (epoch // 5)
            rate = _rate(schedule, step)
            expect(
                math.isclose(rate, expected, rel_tol=1e-4),
                f"at epoch {epoch} (step {step}, {steps_per_epoch} steps per epoch) the learning rate is "
                f"{rate:.4g}; 0.002 * 0.7 ** ({epoch} // 5) = {expected:.4g}.",
            )
    return passed("Exercise 9.2 (the write-up's step decay)")


# ---- Exercise 9.3: average the three best checkpoints ----------------------------------------


def _checkpoints(count, seed):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(2,)).astype("float32")] for _ in range(count)]


def _same(a, b):
    return len(a) == len(b) and all(np.allclose(x, y, atol=1e-5) for x, y in zip(a, b))


@checker("Exercise 9.3")
def check_average_best(average_best):
    """Exercise 9.3: ``average_best(checkpoints, accuracies, k=3)``.

    ``checkpoints`` is a list of weight lists (as ``model.get_weights()`` gives
    them), one per epoch, and ``accuracies`` their validation accuracies. Return
    the element-wise average of the ``k`` checkpoints with the highest accuracy
    (a weight list, for ``model.set_weights``), as the pet breeds write-up does.
    """
    cases = [
        ([0.50, 0.71, 0.62, 0.80, 0.75, 0.60, 0.74], 3),  # the best are not the last ones
        ([0.9, 0.1, 0.2, 0.3, 0.4], 2),
        ([0.3, 0.5, 0.4], 3),
    ]
    for i, (accuracies, k) in enumerate(cases):
        checkpoints = _checkpoints(len(accuracies), seed=i)
        answer = average_best(checkpoints, list(accuracies), k)
        expect(
            isinstance(answer, (list, tuple)) and len(answer) == len(checkpoints[0]),
            f"average_best returned {type(answer).__name__} of length "
            f"{len(answer) if hasattr(answer, '__len__') else '?'}; return one array per weight "
            f"({len(checkpoints[0])} here), as model.get_weights() does.",
        )
        answer = [np.asarray(a) for a in answer]
        order = np.argsort(accuracies)[::-1]
        expected = average_weights([checkpoints[j] for j in order[:k]])
        if _same(answer, expected):
            continue
        if _same(answer, average_weights(checkpoints[-k:])):
            raise AssertionError(
                "Not yet: that is the average of the last k checkpoints; the write-up averages the k "
                "with the best validation accuracy, wherever they are in the run."
            )
        if _same(answer, average_weights(checkpoints)):
            raise AssertionError(f"Not yet: that averages all {len(checkpoints)} checkpoints; only the k best.")
        if _same(answer, average_weights([checkpoints[j] for j in order[::-1][:k]])):
            raise AssertionError("Not yet: those are the k worst checkpoints; sort the accuracies from high to low.")
        if any(_same(answer, checkpoints[j]) for j in range(len(checkpoints))):
            raise AssertionError("Not yet: that is one checkpoint; average the k best, weight by weight.")
        raise AssertionError(
            f"Not yet: with accuracies {accuracies} and k={k}, average checkpoints {sorted(order[:k].tolist())} "
            "element-wise (vitcourse.finetune.average_weights does that)."
        )
    return passed("Exercise 9.3 (the average of the best checkpoints)")
