"""Input pipelines: tf.data (TensorFlow installed) and a ``keras.utils.PyDataset`` (any backend)."""

import math

import keras
import numpy as np

from vitcourse.data.dataset import check_same_length, flat_labels


def make_tf_dataset(x, y, batch_size, shuffle=False, augment=None, seed=0):
    """A ``tf.data.Dataset`` of ``(float32 images in [0, 255], int64 labels)`` batches.

    ``augment`` (a Keras layer or ``Sequential`` of preprocessing layers) runs on
    each batch with ``training=True``, after batching, in parallel with training.
    Needs TensorFlow; :class:`ArrayDataset` is the path without it.
    """
    import tensorflow as tf

    y = flat_labels(y)
    check_same_length(x, y)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    # Cast per batch, after batching: the dataset keeps the 4x smaller uint8 copy.
    dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32), labels))
    if augment is not None:
        # Build the layers eagerly, once: built inside a traced function, a layer's
        # constants (e.g. a fixed Normalization's mean) would belong to that graph.
        augment(np.zeros((1, *np.shape(x)[1:]), "float32"), training=False)
        if isinstance(augment, keras.Sequential):
            # A Sequential turns tf.data's tensors into backend tensors, which fails
            # under JAX; a Pipeline of the same layers stays in tf.data on every backend.
            augment = keras.layers.Pipeline(augment.layers)
        dataset = dataset.map(
            lambda images, labels: (augment(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


class ArrayDataset(keras.utils.PyDataset):
    """Batches ``(float32 images, int64 labels)`` from numpy arrays, on any backend.

    Shuffles once per epoch when ``shuffle`` (seeded, so runs repeat) and applies
    ``augment`` (a Keras layer) to each batch with ``training=True``. Extra keyword
    arguments (``workers``, ``use_multiprocessing``, ...) go to ``PyDataset``.

    Example:
        >>> data = ArrayDataset(x_train, y_train, batch_size=64, shuffle=True)
        >>> images, labels = data[0]  # (64, 32, 32, 3) float32, (64,) int64
        >>> model.fit(data, epochs=5)
    """

    def __init__(self, x, y, batch_size, shuffle=False, augment=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.y = flat_labels(y)
        check_same_length(x, self.y)
        self.x = np.asarray(x)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(self.y)) if shuffle else np.arange(len(self.y))

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} out of range: this dataset has {len(self)} batches.")
        batch = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[batch].astype(np.float32)
        if self.augment is not None:
            images = keras.ops.convert_to_numpy(self.augment(images, training=True))
        return images, self.y[batch]

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.y))
