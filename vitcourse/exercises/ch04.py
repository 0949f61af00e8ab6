"""Checkers for chapter 04, "Where augmentation belongs".

Each checker takes the reader's answer (a function), fails with an
``AssertionError`` whose message is a hint, and calls
:func:`vitcourse.exercises.passed` when it is right. A student stub (``None``,
or a function that raises ``NotImplementedError``) gets "not attempted yet"
(:func:`vitcourse.exercises.checker`). Every reference answer comes from Keras
itself (an adapted ``Normalization`` layer, a trained model's measured
accuracy), not from a second copy of the solution.
"""

import os
import tempfile

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed
from vitcourse.presets import walk_layers


def _adapted_normalization(images):
    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(np.asarray(images, dtype="float32"))
    return layer


def _images(shape, seed):
    rng = np.random.default_rng(seed)
    # Channels with different brightness, so that mixing them up shows.
    offsets = np.linspace(0, 120, shape[-1])
    images = rng.integers(0, 136, size=shape) + offsets
    return images.astype("uint8")


# ---- Exercise 4.1: what Normalization.adapt computes ---------------------------------------


@checker("Exercise 4.1")
def check_channel_statistics(channel_statistics):
    """Exercise 4.1: ``channel_statistics(images) -> (mean, variance)`` in numpy.

    ``images`` is a uint8 array (N, H, W, C). The answer must equal what
    ``keras.layers.Normalization().adapt(images)`` stores: one mean and one
    variance per channel, over all images, rows and columns.
    """
    for shape, seed in (((16, 8, 8, 3), 0), ((5, 4, 6, 1), 1), ((7, 3, 3, 4), 2)):
        images = _images(shape, seed)
        original = images.copy()
        answer = channel_statistics(images)
        expect(
            isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"channel_statistics returned {type(answer).__name__}; return a pair (mean, variance).",
        )
        mean, variance = (np.asarray(a, dtype="float64") for a in answer)
        expect(np.array_equal(images, original), "channel_statistics changed the images; work on a copy.")
        channels = shape[-1]
        expect(
            mean.shape == (channels,) and variance.shape == (channels,),
            f"For images of shape {shape} the mean has shape {mean.shape} and the variance "
            f"{variance.shape}; adapt keeps one number per channel: shape ({channels},). "
            "Average over images, rows and columns together: axis=(0, 1, 2).",
        )
        layer = _adapted_normalization(images)
        ref_mean = keras.ops.convert_to_numpy(layer.mean).reshape(-1)
        ref_variance = keras.ops.convert_to_numpy(layer.variance).reshape(-1)
        pixels = images.reshape(-1, channels).astype("float64")
        expect(
            np.allclose(mean, ref_mean, rtol=1e-4, atol=1e-3),
            f"The means {np.round(mean, 3)} differ from adapt's {np.round(ref_mean, 3)}. "
            "Average every pixel of a channel, over all images (axis=(0, 1, 2)), in float: "
            "images.astype('float64').mean(axis=(0, 1, 2)).",
        )
        if np.allclose(variance, pixels.std(axis=0), rtol=1e-4, atol=1e-3):
            raise AssertionError(
                "Not yet: that is the standard deviation. Normalization stores the variance "
                "(the square of the standard deviation) and takes its square root when it "
                "divides: (x - mean) / sqrt(variance)."
            )
        if np.allclose(variance, pixels.var(ddof=1, axis=0), rtol=1e-6, atol=0):
            raise AssertionError(
                "Not yet: that variance divides by N - 1 (ddof=1). adapt computes the "
                "population variance, dividing by N: np.var's default (ddof=0)."
            )
        expect(
            np.allclose(variance, ref_variance, rtol=2e-4, atol=1e-2),
            f"The variances {np.round(variance, 2)} differ from adapt's {np.round(ref_variance, 2)}. "
            "Use the mean squared distance from each channel's mean, over axis=(0, 1, 2).",
        )
    return passed("Exercise 4.1 (channel_statistics)")


# ---- Exercise 4.2: non-trainable parameters of Normalization -------------------------------


def _reference_non_trainable(channels):
    layer = _adapted_normalization(_images((4, 2, 2, channels), channels))
    return sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)


@checker("Exercise 4.2")
def check_normalization_parameters(normalization_parameters):
    """Exercise 4.2: ``normalization_parameters(channels)`` -> non-trainable parameters.

    The number of non-trainable parameters an adapted ``Normalization(axis=-1)``
    adds to a model whose images have ``channels`` channels (7 for RGB, as in
    keras.io's ViT summary). Checked against Keras for several channel counts.
    """
    for channels in (3, 1, 4, 16):
        got = normalization_parameters(channels)
        expected = _reference_non_trainable(channels)
        expect(
            isinstance(got, (int, np.integer)) and not isinstance(got, bool),
            f"normalization_parameters({channels}) returned {got!r}; a parameter count is an int.",
        )
        if got == 2 * channels:
            raise AssertionError(
                f"Not yet: normalization_parameters({channels}) returned {got}. Mean and variance "
                "are there, but adapt also stores how many values it has seen (a count, one "
                "number), so that it could be updated with more data."
            )
        expect(
            got == expected,
            f"normalization_parameters({channels}) returned {got}, but Keras counts {expected}. "
            "Which of the layer's weights (layer.non_trainable_weights) depend on the number "
            "of channels, and which one does not?",
        )
    return passed("Exercise 4.2 (normalization_parameters)")


# ---- Exercise 4.3: attach pipeline preprocessing for serving -------------------------------

_RAW_SHAPE = (6, 6, 3)
_MODEL_SIDE = 9


def _exercise_parts(seed=0):
    """The preprocessing of a pipeline-trained model, and the model (it takes 9x9 inputs)."""
    keras.utils.set_random_seed(seed)
    x_train = _images((32, *_RAW_SHAPE), seed)
    normalization = keras.layers.Normalization(name="normalization")
    normalization.adapt(x_train.astype("float32"))
    preprocessing = keras.Sequential(
        [
            keras.Input(_RAW_SHAPE),
            normalization,
            keras.layers.Resizing(_MODEL_SIDE, _MODEL_SIDE, name="resize"),
            keras.layers.RandomFlip("horizontal", name="flip"),
            keras.layers.RandomRotation(0.1, name="rotation"),
        ],
        name="preprocessing",
    )
    model = keras.Sequential(
        [
            keras.Input((_MODEL_SIDE, _MODEL_SIDE, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(5, name="classifier"),
        ],
        name="trained_on_the_pipeline",
    )
    return preprocessing, model


@checker("Exercise 4.3")
def check_serving_model(attach_preprocessing):
    """Exercise 4.3: ``attach_preprocessing(preprocessing, model) -> keras.Model``.

    ``model`` was trained on batches that ``preprocessing`` produced in the
    tf.data pipeline. The served model must take raw uint8 images, give
    ``model(preprocessing(x, training=False))``, give the same answer every
    time, and survive a ``.keras`` save and reload.
    """
    preprocessing, model = _exercise_parts()
    raw = _images((8, *_RAW_SHAPE), seed=3)
    expected = keras.ops.convert_to_numpy(model(preprocessing(raw.astype("float32"), training=False)))
    served = attach_preprocessing(preprocessing, model)
    expect(
        isinstance(served, keras.Model),
        f"attach_preprocessing returned a {type(served).__name__}; return a keras.Model, "
        "e.g. keras.Sequential([preprocessing, model]).",
    )
    input_shape = tuple(served.input_shape[1:]) if hasattr(served, "input_shape") else None
    expect(
        input_shape == _RAW_SHAPE,
        f"The served model takes inputs of shape {input_shape}, but clients send raw "
        f"{_RAW_SHAPE} images: put the preprocessing in front of the model.",
    )
    # Called directly (training=False, as predict does): no predict function to trace.
    first = keras.ops.convert_to_numpy(served(raw.astype("float32"), training=False))
    second = keras.ops.convert_to_numpy(served(raw.astype("float32"), training=False))
    expect(
        np.allclose(first, second, atol=1e-5),
        "Two predictions on the same images differ: random augmentation is running at "
        "inference. Call the layers with training=False (predict does), and do not force "
        "training=True.",
    )
    expect(
        first.shape == expected.shape and np.allclose(first, expected, rtol=1e-4, atol=1e-4),
        "The served model's outputs differ from model(preprocessing(images, training=False)). "
        "Use the same, already adapted preprocessing layers (normalisation and resizing "
        "included), in the same order, in front of the trained model.",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "served.keras")
        try:
            served.save(path)
            # Safe mode, as a server should load it: no Python code from the file runs.
            reloaded = keras.saving.load_model(path)
        except Exception as error:  # what Keras raises depends on the layer and the backend
            raise AssertionError(
                f"Not yet: the served model does not survive a .keras save and safe-mode reload "
                f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). A Lambda layer or "
                "another Python function in the model is code that a .keras file cannot carry "
                "safely: build the preprocessing from Keras layers (the already adapted "
                "Normalization, Resizing) and put those layers in front of the model."
            ) from None
    again = keras.ops.convert_to_numpy(reloaded(raw.astype("float32"), training=False))
    expect(
        np.allclose(again, expected, rtol=1e-4, atol=1e-4),
        "After a .keras save and reload, the served model answers differently: something in it "
        "is not saved with it. A custom layer must return every constructor argument from "
        "get_config (and keep its state in weights); Keras' own layers do.",
    )
    return passed("Exercise 4.3 (attach_preprocessing)")


# ---- Exercise 4.5: augmentation that suits the data, measured -------------------------------

DIGITS_SHAPE = (16, 16, 3)
DIGITS_EPOCHS = 3
DIGITS_MIN_ACCURACY = 0.4  # chance is 0.1 on 10 classes; a working answer reaches 0.6 to 0.9
_MAX_PARAMETERS = 1_000_000



def _train_on_digits(model, seed=0):
    """Compiles ``model`` with the course's optimizer, fits it briefly on the digits; test accuracy."""
    from vitcourse.data import load_digits_dataset
    from vitcourse.training import compile_model, evaluate

    data = load_digits_dataset(image_size=DIGITS_SHAPE[0])
    batch_size = 64
    steps = DIGITS_EPOCHS * -(-len(data.x_train) // batch_size)
    keras.utils.set_random_seed(seed)
    compile_model(model, learning_rate=1e-3, weight_decay=1e-4, total_steps=steps)
    model.fit(data.x_train, data.y_train, epochs=DIGITS_EPOCHS, batch_size=batch_size, verbose=0)
    return evaluate(model, data.x_test, data.y_test)["accuracy"]


@checker("Exercise 4.5")
def check_digits_model(digits_model):
    """Exercise 4.5: ``digits_model() -> keras.Model`` for scikit-learn's digits at 16x16.

    The model takes raw uint8 images of shape (16, 16, 3), has its random
    augmentation inside (a shift or a rotation, no flip: a mirrored digit is
    another symbol), outputs 10 logits and is deterministic at inference. The
    checker trains it for 3 epochs (AdamW, as the course compiles every model)
    and measures its accuracy on the digits' test split: it must be well above
    chance (10%).
    """
    keras.utils.set_random_seed(0)
    model = digits_model()
    expect(
        isinstance(model, keras.Model),
        f"digits_model() returned a {type(model).__name__}; return a keras.Model, e.g. a "
        "keras.Sequential that starts with keras.Input((16, 16, 3)).",
    )
    input_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    expect(
        input_shape == DIGITS_SHAPE,
        f"The model takes inputs of shape {input_shape}; the digits come as raw uint8 images "
        f"of shape {DIGITS_SHAPE}: start with keras.Input({DIGITS_SHAPE}).",
    )
    output_shape = tuple(model.output_shape) if hasattr(model, "output_shape") else None
    expect(
        output_shape == (None, 10),
        f"The model's output has shape {output_shape}; there are 10 digits: end with "
        "keras.layers.Dense(10), one logit per class.",
    )
    flips = [layer.name for layer in walk_layers(model) if isinstance(layer, keras.layers.RandomFlip)]
    if flips:
        raise AssertionError(
            f"Not yet: the model flips its images ({', '.join(flips)}). A flip suits photographs "
            "(a mirrored cat is a cat), not digits: a mirrored 2, 3 or 7 is another symbol, or none. "
            "Use a small shift (RandomTranslation) or rotation (RandomRotation) instead."
        )
    random_layers = [
        layer.name for layer in walk_layers(model) if type(layer).__name__.startswith("Random")
    ]
    expect(
        random_layers,
        "The model has no random augmentation layer. Put one inside it, after the input: "
        "keras.layers.RandomTranslation(0.1, 0.1) shifts a digit by up to 10% of the image.",
    )
    expect(
        model.count_params() <= _MAX_PARAMETERS,
        f"The model has {model.count_params():,} parameters; keep it under "
        f"{_MAX_PARAMETERS:,}, so that the check trains it in seconds (a Dense(64) layer is enough).",
    )
    images = np.asarray(_images((8, *DIGITS_SHAPE), seed=4), dtype="float32")
    first = keras.ops.convert_to_numpy(model(images, training=False))
    second = keras.ops.convert_to_numpy(model(images, training=False))
    expect(
        np.allclose(first, second, rtol=1e-5, atol=1e-5),
        "Two calls with training=False give different outputs: the augmentation runs at "
        "inference. Use Keras' random layers as they are; they do nothing when training=False.",
    )
    accuracy = _train_on_digits(model)
    expect(
        accuracy >= DIGITS_MIN_ACCURACY,
        f"After {DIGITS_EPOCHS} epochs the model gets {accuracy:.0%} of the test digits right "
        f"(chance is 10%; the check asks for {DIGITS_MIN_ACCURACY:.0%}). Scale the pixels to "
        "[0, 1] first (keras.layers.Rescaling(1 / 255)), keep the shift small, make sure the "
        "layers are trainable, and output logits (no softmax).",
    )
    return passed(f"Exercise 4.5 (digits_model: {accuracy:.0%} test accuracy after {DIGITS_EPOCHS} epochs)")
