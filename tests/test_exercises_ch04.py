"""The checkers of chapter 04, each with a right answer and wrong ones (any backend)."""

import keras
import numpy as np
import pytest

from vitcourse.exercises import NotAttempted, ch04

# ---- Exercise 4.1: channel_statistics ------------------------------------------------------


def channel_statistics(images):
    pixels = images.astype("float64")
    return pixels.mean(axis=(0, 1, 2)), pixels.var(axis=(0, 1, 2))


def statistics_per_image(images):
    pixels = images.astype("float64")
    return pixels.mean(axis=(1, 2)), pixels.var(axis=(1, 2))


def statistics_with_std(images):
    pixels = images.astype("float64")
    return pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))


def statistics_sample_variance(images):
    pixels = images.astype("float64").reshape(-1, images.shape[-1])
    return pixels.mean(axis=0), pixels.var(axis=0, ddof=1)


def statistics_over_everything(images):  # one number for all channels, broadcast
    pixels = images.astype("float64")
    c = images.shape[-1]
    return np.full(c, pixels.mean()), np.full(c, pixels.var())


def statistics_not_a_pair(images):
    return images.mean(axis=(0, 1, 2))


def test_check_channel_statistics_right():
    assert ch04.check_channel_statistics(channel_statistics)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (statistics_per_image, "one number per channel"),
        (statistics_with_std, "standard deviation"),
        (statistics_sample_variance, "ddof"),
        (statistics_over_everything, "means"),
        (statistics_not_a_pair, "pair"),
    ],
)
def test_check_channel_statistics_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch04.check_channel_statistics(wrong)


# ---- Exercise 4.2: normalization_parameters ------------------------------------------------


def test_check_normalization_parameters_right():
    assert ch04.check_normalization_parameters(lambda channels: 2 * channels + 1)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda channels: 2 * channels, "count"),
        (lambda channels: 7, "Keras counts"),
        (lambda channels: 2.0 * channels + 1, "int"),
        (lambda channels: channels + 1, "Keras counts"),
    ],
)
def test_check_normalization_parameters_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch04.check_normalization_parameters(wrong)


# ---- Exercise 4.3: attach_preprocessing ----------------------------------------------------


def attach_preprocessing(preprocessing, model):
    return keras.Sequential([preprocessing, model])


def attach_functional(preprocessing, model):
    inputs = keras.Input((6, 6, 3))
    return keras.Model(inputs, model(preprocessing(inputs)))


def model_alone(preprocessing, model):
    return model


def resize_only(preprocessing, model):
    return keras.Sequential([keras.Input((6, 6, 3)), preprocessing.get_layer("resize"), model])


def fresh_normalization(preprocessing, model):  # a new, unadapted Normalization: identity
    return keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Normalization(), preprocessing.get_layer("resize"), model]
    )


class AlwaysAugment(keras.layers.Layer):
    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return self.inner(x, training=True)


def augment_at_inference(preprocessing, model):
    return keras.Sequential([keras.Input((6, 6, 3)), AlwaysAugment(preprocessing), model])


def not_a_model(preprocessing, model):
    return lambda images: model(preprocessing(images))


def attach_with_lambda(preprocessing, model):  # right answers, but Python code in the saved file
    return keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Lambda(lambda x: preprocessing(x, training=False)), model]
    )


@keras.saving.register_keras_serializable(package="tests_ch04")
class Scale(keras.layers.Layer):
    """Multiplies by ``factor``, but forgets it in get_config: after a reload it doubles."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):  # the mistake: Keras would have saved factor; this drops it
        config = super().get_config()
        config.pop("factor", None)
        return config


def attach_with_unsaved_setting(preprocessing, model):
    return keras.Sequential([keras.Input((6, 6, 3)), preprocessing, model, Scale(1.0)])


def test_check_serving_model_right():
    assert ch04.check_serving_model(attach_preprocessing)
    assert ch04.check_serving_model(attach_functional)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (model_alone, "raw"),
        (resize_only, "outputs differ"),
        (fresh_normalization, "outputs differ"),
        (augment_at_inference, "random augmentation"),
        (not_a_model, "keras.Model"),
        (attach_with_lambda, "Lambda layer"),
        (attach_with_unsaved_setting, "get_config"),
    ],
)
def test_check_serving_model_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch04.check_serving_model(wrong)


# ---- Exercise 4.5: digits_model ------------------------------------------------------------


def digits_model():
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def digits_with_flip():
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augment")
    return keras.Sequential([keras.Input((16, 16, 3)), augment, keras.layers.Flatten(), keras.layers.Dense(10)])


def digits_without_augmentation():
    return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])


def digits_cifar_shape():
    shift = keras.layers.RandomTranslation(0.1, 0.1)
    return keras.Sequential([keras.Input((32, 32, 3)), shift, keras.layers.Flatten(), keras.layers.Dense(10)])


def digits_hundred_classes():
    shift = keras.layers.RandomTranslation(0.1, 0.1)
    return keras.Sequential([keras.Input((16, 16, 3)), shift, keras.layers.Flatten(), keras.layers.Dense(100)])


def digits_frozen():  # builds and runs, but nothing in it can learn: chance accuracy
    frozen = keras.layers.Dense(10, trainable=False, kernel_initializer="zeros")
    return keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.RandomTranslation(0.1, 0.1), keras.layers.Flatten(), frozen]
    )


def test_check_digits_model_right():
    solved = ch04.check_digits_model(digits_model)
    assert solved and "test accuracy" in repr(solved)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (digits_with_flip, "mirrored"),
        (digits_without_augmentation, "no random augmentation"),
        (digits_cifar_shape, r"keras.Input\(\(16, 16, 3\)\)"),
        (digits_hundred_classes, "10 digits"),
        (lambda: "a model", "keras.Model"),
        (digits_frozen, "chance is 10%"),
    ],
)
def test_check_digits_model_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch04.check_digits_model(wrong)


# ---- Stubs of the student version: "not attempted yet", no traceback -----------------------


def _stub(*args):
    raise NotImplementedError("Exercise 4.x: write it here.")


@pytest.mark.parametrize(
    "check",
    [
        ch04.check_channel_statistics,
        ch04.check_normalization_parameters,
        ch04.check_serving_model,
        ch04.check_digits_model,
    ],
)
@pytest.mark.parametrize("stub", [None, _stub])
def test_stubs_are_not_attempted(check, stub):
    result = check(stub)
    assert isinstance(result, NotAttempted) and not result
    assert "not attempted yet" in repr(result)
