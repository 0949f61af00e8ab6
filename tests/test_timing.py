"""Tests of vitcourse.timing: sensible positive numbers with their conditions, and clear errors.

No timing thresholds: the machine running the tests may be slow or busy.
"""

import keras
import numpy as np
import pytest

from vitcourse.timing import describe_timing, hardware_label, images_per_second, time_training

CONDITIONS = {"batch_size", "backend", "device"}


def tiny_model(compiled=True):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    if compiled:
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def tiny_arrays(n=20):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, 4, 4, 3)).astype("float32"), rng.integers(0, 3, n).astype("int64")


def test_images_per_second_numbers_and_conditions():
    batches = [np.ones((8, 4, 4, 3)), np.ones((8, 4, 4, 3)), np.ones((4, 4, 4, 3))]
    calls = []
    result = images_per_second(lambda b: calls.append(len(b)) or b.sum(), batches, warmup=2, repeats=3)
    assert len(calls) == 2 + 3 * 3  # warmup calls, then every batch in every pass
    assert result["images"] == 20
    assert result["repeats"] == 3
    assert result["seconds"] > 0 and result["images_per_second"] > 0
    assert result["best_images_per_second"] >= result["images_per_second"]
    assert CONDITIONS <= set(result)
    assert result["batch_size"] == 8
    assert result["backend"] == keras.backend.backend()


def test_images_per_second_counts_images_of_tuple_batches_and_backend_tensors():
    model = tiny_model(compiled=False)
    x, y = tiny_arrays(12)
    batches = [(x[:6], y[:6]), (x[6:], y[6:])]
    result = images_per_second(lambda batch: model(batch[0]), batches, warmup=1, repeats=2)
    assert result["images"] == 12 and result["images_per_second"] > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fn": "not callable"}, "callable"),
        ({"batches": []}, "empty"),
        ({"warmup": -1}, "warmup"),
        ({"repeats": 0}, "repeats"),
        ({"repeats": 1.5}, "repeats"),
        ({"batches": [np.ones((0, 2))]}, "no images"),
    ],
)
def test_images_per_second_rejects_bad_arguments(kwargs, message):
    arguments = {"fn": lambda b: b, "batches": [np.ones((2, 2))], **kwargs}
    with pytest.raises(ValueError, match=message):
        images_per_second(**arguments)


def test_time_training_on_arrays():
    model = tiny_model()
    before = [w.copy() for w in model.get_weights()]
    result = time_training(model, tiny_arrays(10), steps=3, batch_size=4, warmup_steps=1, repeats=2)
    assert result["steps"] == 3 and result["images"] == 12  # more steps than the 10 images hold
    assert result["seconds"] > 0 and result["images_per_second"] > 0
    assert result["batch_size"] == 4 and CONDITIONS <= set(result)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))  # it trained


def test_time_training_on_a_pydataset():
    from vitcourse.data import ArrayDataset

    x, y = tiny_arrays(16)
    result = time_training(tiny_model(), ArrayDataset(x, y, batch_size=4), steps=2)
    assert result["batch_size"] == 4 and result["images"] == 8 and result["images_per_second"] > 0


@pytest.mark.tf_only
def test_time_training_on_a_tf_dataset_repeats_it():
    pytest.importorskip("tensorflow")
    from vitcourse.data import make_tf_dataset

    x, y = tiny_arrays(8)
    dataset = make_tf_dataset(x, y, batch_size=4, augment=keras.layers.RandomFlip("horizontal"))
    result = time_training(tiny_model(), dataset, steps=5)  # the dataset holds 2 batches
    assert result["batch_size"] == 4 and result["images"] == 20 and result["images_per_second"] > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.0}, "steps"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"repeats": 0}, "repeats"),
        ({"batch_size": None}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"data": (np.ones((4, 4, 4, 3)), np.zeros(3, "int64"))}, "one label per image"),
        ({"data": (np.ones((4, 4, 4, 3)),)}, r"\(x, y\)"),
        ({"data": "images.npz"}, "tf.data"),
        ({"model": "a model"}, "keras.Model"),
        ({"model": None}, "keras.Model"),
    ],
)
def test_time_training_rejects_bad_arguments(kwargs, message):
    arguments = {"model": tiny_model(), "data": tiny_arrays(8), "steps": 2, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        time_training(**arguments)


def test_time_training_needs_a_compiled_model():
    with pytest.raises(ValueError, match="compile"):
        time_training(tiny_model(compiled=False), tiny_arrays(8), steps=1, batch_size=4)


def test_time_training_pydataset_too_short():
    from vitcourse.data import ArrayDataset

    x, y = tiny_arrays(8)
    with pytest.raises(ValueError, match="fewer than steps"):
        time_training(tiny_model(), ArrayDataset(x, y, batch_size=4), steps=3)


def test_describe_timing_and_hardware_label():
    label = hardware_label()
    assert isinstance(label, str) and label
    result = time_training(tiny_model(), tiny_arrays(8), steps=2, batch_size=4, warmup_steps=0)
    line = describe_timing(result, "in-model")
    assert line.startswith("in-model: ") and "images/s" in line and "batch 4" in line
    assert keras.backend.backend() in line and label in line
