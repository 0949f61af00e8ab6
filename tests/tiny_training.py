"""Tiny classifiers and data for the tests of training: seconds on every backend."""

import types

import keras
import numpy as np

NUM_CLASSES = 10
IMAGE_SHAPE = (8, 8, 3)


def tiny_model(num_classes=NUM_CLASSES, seed=1, scale=1 / 255):
    """Rescaling -> Flatten -> Dense on 8x8x3 images; ``scale=nan`` gives a NaN loss."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Rescaling(scale),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ]
    )


def tiny_data(train_images=64, test_images=32, num_classes=NUM_CLASSES, seed=0):
    """Random uint8 images with random labels, as an object with x_train, ..., y_test."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (train_images + test_images, *IMAGE_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, num_classes, train_images + test_images).astype("int64")
    return types.SimpleNamespace(
        x_train=images[:train_images],
        y_train=labels[:train_images],
        x_test=images[train_images:],
        y_test=labels[train_images:],
    )


class InterruptAt(keras.callbacks.Callback):
    """Stands in for a Colab disconnect or Ctrl-C at the start of an epoch (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"interrupted at epoch {epoch + 1}")
