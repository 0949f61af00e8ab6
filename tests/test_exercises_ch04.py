"""The checkers of chapter 04, each with a right answer and wrong ones (any backend)."""

import keras
import numpy as np
import pytest

from vitcourse.exercises import ch04

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
    ],
)
def test_check_serving_model_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch04.check_serving_model(wrong)
