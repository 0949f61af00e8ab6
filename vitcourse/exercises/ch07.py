"""Checkers for chapter 07, "ViTs on small datasets".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and returns
:func:`vitcourse.exercises.passed` when it is right. A student stub (``None``,
or a function that raises ``NotImplementedError``) gets "not attempted yet"
(:func:`vitcourse.exercises.checker`). The references are the package's
:func:`vitcourse.small_data.legacy_decay_learning_rate` and
:func:`vitcourse.small_data.lsa_weights`; exercise 7.2's model is checked by
measuring it (its output, its parameter count, and one training step).
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.small_data import legacy_decay_learning_rate, lsa_weights

# ---- Exercise 7.1: what `decay=0.1` did ---------------------------------------------------------


@checker("Exercise 7.1")
def check_legacy_schedule(legacy_schedule, learning_rate=2e-4, decay=0.1):
    """Exercise 7.1: ``legacy_schedule(learning_rate, decay)`` returns a Keras schedule.

    It must give, at optimizer step ``t``, the learning rate that TensorFlow 2.x's
    legacy ``Adam(learning_rate, decay=decay)`` used: ``learning_rate / (1 + decay * t)``.
    Checked at the project's values and at others, over 200 steps (20 epochs of
    10 steps of 512 images).
    """
    steps = np.arange(200)
    for lr, d in ((learning_rate, decay), (1e-3, 0.01)):
        schedule = legacy_schedule(lr, d)
        expect(
            isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule),
            f"legacy_schedule returned {type(schedule).__name__}; return a schedule from "
            "keras.optimizers.schedules, which an optimizer takes as its learning_rate.",
        )
        got = np.array([float(keras.ops.convert_to_numpy(schedule(int(t)))) for t in steps])
        want = legacy_decay_learning_rate(lr, d, len(steps))
        expect(
            np.isclose(got[0], lr, rtol=1e-5),
            f"at step 0 your schedule gives {got[0]:.3g}; it must start at the learning rate, {lr:g}.",
        )
        flat = np.isclose(got[:10], got[0], rtol=1e-6)
        expect(
            not flat[1:].all() or np.allclose(got, want, rtol=1e-4),
            "your rate stays flat over the first steps: the legacy decay is smooth and counts every "
            "optimizer step (decay_steps=1, staircase=False), not epochs.",
        )
        expect(
            np.isclose(got[10], want[10], rtol=1e-3) or not np.isclose(got[10], lr * d ** (10 / 1), rtol=1e-3),
            "that is an exponential decay (learning_rate * decay ** t); the legacy decay divides by "
            "1 + decay * t: InverseTimeDecay.",
        )
        expect(
            np.allclose(got, want, rtol=1e-4),
            f"at step 10 your schedule gives {got[10]:.3g}, the legacy decay {want[10]:.3g} "
            f"(= {lr:g} / (1 + {d:g} * 10)); at step 199, {got[-1]:.3g} against {want[-1]:.3g}.",
        )
    return passed("Exercise 7.1")


# ---- Exercise 7.2: the project's model with a GAP head -----------------------------------------


@checker("Exercise 7.2")
def check_gap_model(gap_model):
    """Exercise 7.2: ``gap_model(depth, dim)`` returns the 2x2 patches project's model at
    L = ``depth``, D = ``dim`` with a GAP head: the average of the tokens and one
    ``Dense(10)`` giving logits, instead of Flatten + 2,048 + 1,024.

    Measured on (depth, dim) = (2, 16) and (1, 32): the output, the parameter count
    (the project's blocks, with ``key_dim`` = D and an MLP of (2D, D), a linear
    projection of the 12 values of a 2x2 patch, a position table of 256 x D
    (trained or not: both are accepted), a final LayerNorm and ``D * 10 + 10`` for
    the head), and that one training step runs and changes the weights.
    """
    for depth, dim in ((2, 16), (1, 32)):
        model = gap_model(depth, dim)
        expect(isinstance(model, keras.Model), f"gap_model returned {type(model).__name__}; return a keras.Model.")
        expect(
            tuple(model.input_shape[1:]) == (32, 32, 3),
            f"the model takes inputs of shape {model.input_shape}; it takes CIFAR images, (None, 32, 32, 3).",
        )
        expect(
            model.output_shape[-1] == 10 and len(model.output_shape) == 2,
            f"the output has shape {model.output_shape}; one value per CIFAR-10 class: (None, 10).",
        )
        block = 3 * (4 * dim * dim + 4 * dim) + 4 * dim * dim + dim  # 4 heads of key_dim D: q, k, v, and out
        block += (dim * 2 * dim + 2 * dim) + (2 * dim * dim + dim) + 4 * dim  # MLP (2D, D) and two LayerNorms
        embed = 12 * dim + dim
        head = dim * 10 + 10
        counted = model.count_params()
        trained_table = embed + depth * block + 2 * dim + head + 256 * dim
        untracked_table = trained_table - 256 * dim  # the project's never-trained table is not a weight
        expect(
            counted < 256 * dim * 2048,
            f"{counted:,} parameters: the flatten head is still there (Flatten of 256 x {dim} values "
            "into Dense(2048) alone has more). Use pooling='gap' and head_units=().",
        )
        expect(
            counted in (trained_table, untracked_table),
            f"at L={depth}, D={dim} your model has {counted:,} parameters; the project's blocks with a GAP "
            f"head have {trained_table:,} (with a trained position table) or {untracked_table:,} (with the "
            "project's fixed one). Check key_dim=D, mlp_units=(2D, D), head_units=() and one Dense(10).",
        )
        x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
        outputs = keras.ops.convert_to_numpy(model(x))
        expect(
            not np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-4),
            "the outputs sum to 1: the model ends in a softmax. Give logits (output_activation=None) and "
            "train with from_logits=True.",
        )
    before = [np.array(keras.ops.convert_to_numpy(w)) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.AdamW(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    model.train_on_batch(x, np.arange(8) % 10)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    expect(
        any(not np.allclose(a, b) for a, b in zip(before, after)),
        "one training step changed no weight: leave the model trainable.",
    )
    return passed("Exercise 7.2")


# ---- Exercise 7.3: Locality Self-Attention's weights ---------------------------------------------


@checker("Exercise 7.3")
def check_lsa_weights(answer):
    """Exercise 7.3: ``answer(scores, temperature)`` gives LSA's attention weights.

    ``scores`` is an array (..., N, N) of query-key dot products; the answer is
    ``softmax(scores / temperature)`` over the keys, with each token's own score
    masked out first, so the diagonal is 0 and every row sums to 1.
    """
    rng = np.random.default_rng(7)
    scores = rng.normal(scale=3.0, size=(2, 3, 6, 6))
    for temperature in (4.0, 0.5):
        got = np.asarray(answer(scores, temperature), dtype="float64")
        want = lsa_weights(scores, temperature)
        expect(got.shape == want.shape, f"the weights have shape {got.shape}; they keep the scores' shape {want.shape}.")
        expect(np.all(np.isfinite(got)), "some weights are NaN or infinite: subtract each row's maximum before exp.")
        expect(
            np.allclose(got.sum(axis=-1), 1.0, atol=1e-6),
            "the rows do not sum to 1: take the softmax over the last axis (the keys).",
        )
        diagonal = np.diagonal(got, axis1=-2, axis2=-1)
        expect(
            np.allclose(diagonal, 0.0, atol=1e-6),
            "a token still attends to itself: set the diagonal scores to -inf (or a large negative "
            "number) before the softmax, so its weight is 0.",
        )
        plain = lsa_weights(scores * temperature**2, temperature)  # the scores multiplied, not divided
        expect(
            not np.allclose(got, plain, atol=1e-6) or np.allclose(got, want, atol=1e-6),
            "divide the scores by the temperature; multiplying sharpens where it should soften.",
        )
        expect(
            np.allclose(got, want, atol=1e-6),
            f"with temperature {temperature} your weights differ from softmax(scores / temperature) with "
            "the diagonal masked (largest difference "
            f"{np.abs(got - want).max():.3g}).",
        )
    return passed("Exercise 7.3")
