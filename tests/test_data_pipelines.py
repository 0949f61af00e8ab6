"""Tests of vitcourse/data/pipelines.py: tf.data pipelines and the backend-neutral ArrayDataset."""

import keras
import numpy as np
import pytest

from vitcourse import data


def augmentation():
    return keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.1, 0.1)])


@pytest.mark.parametrize("augment", [None, augmentation])
def test_make_tf_dataset(augment):
    pytest.importorskip("tensorflow")
    ds = data.synthetic_cifar(n_train=70, n_test=10)
    pipeline = data.make_tf_dataset(
        ds.x_train, ds.y_train, batch_size=32, shuffle=True, augment=augment and augment()
    )
    batches = list(pipeline.as_numpy_iterator())
    assert [len(labels) for _, labels in batches] == [32, 32, 6]
    images, labels = batches[0]
    assert images.shape == (32, 32, 32, 3) and images.dtype == np.float32
    assert labels.dtype == np.int64
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == sorted(ds.y_train.tolist())
    if augment is None:
        assert images.max() > 1  # pixels stay in [0, 255]: models rescale inside


def test_array_dataset_batches_and_shuffles():
    x = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    y = np.arange(10)
    ds = data.ArrayDataset(x, y, batch_size=4, shuffle=True, seed=0)
    assert len(ds) == 3
    images, labels = ds[0]
    assert images.shape == (4, 4, 4, 3) and images.dtype == np.float32
    assert np.array_equal(images[:, 0, 0, 0], labels)  # images stay with their labels
    assert ds[2][0].shape == (2, 4, 4, 3)
    first = np.concatenate([ds[i][1] for i in range(3)])
    ds.on_epoch_end()
    second = np.concatenate([ds[i][1] for i in range(3)])
    assert sorted(first) == sorted(second) == list(range(10)) and not np.array_equal(first, second)
    with pytest.raises(IndexError):
        ds[3]


def test_array_dataset_trains_a_model_with_augmentation():
    ds = data.synthetic_cifar(n_train=64, n_test=16, image_size=16)
    train = data.ArrayDataset(ds.x_train, ds.y_train, batch_size=32, shuffle=True, augment=augmentation())
    images, labels = train[0]
    assert images.shape == (32, 16, 16, 3) and images.dtype == np.float32
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_make_tf_dataset_with_the_course_augmentation():
    """course_vit's flip/shift layers (a fixed Normalization inside) run in the pipeline."""
    pytest.importorskip("tensorflow")
    from vitcourse.presets import augmentation_layers, get_preset

    x = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3)).astype("uint8")
    augment = augmentation_layers(get_preset("course_vit"))
    images, labels = next(iter(data.make_tf_dataset(x, np.arange(8) % 2, 4, augment=augment)))
    assert tuple(images.shape) == (4, 32, 32, 3) and tuple(labels.shape) == (4,)
    assert abs(float(np.mean(images))) < 3  # normalised, not raw pixels
