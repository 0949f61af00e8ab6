"""Tests of vitcourse.training: the schedule, compile, a resumable train, evaluation helpers.

The models here are tiny Flatten + Dense classifiers on 8x8 random images, so
the tests do not depend on the presets and run in seconds on every backend.
"""

import json
import types

import keras
import numpy as np
import pytest

from vitcourse.training import (
    WarmupCosine,
    compile_model,
    evaluate,
    most_confused,
    resume_info,
    train,
)

NUM_CLASSES = 10
IMAGE_SHAPE = (8, 8, 3)


def tiny_model(num_classes=NUM_CLASSES, seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ]
    )


def tiny_data(train_images=64, test_images=32, num_classes=NUM_CLASSES):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (train_images + test_images, *IMAGE_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, num_classes, train_images + test_images).astype("int64")
    return types.SimpleNamespace(
        x_train=images[:train_images],
        y_train=labels[:train_images],
        x_test=images[train_images:],
        y_test=labels[train_images:],
    )


def lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


# --- WarmupCosine ---------------------------------------------------------------


def test_warmup_cosine_values():
    schedule = WarmupCosine(1e-3, total_steps=100, warmup_steps=10, final_learning_rate=1e-5)
    assert lr(schedule, 0) == 0.0
    assert lr(schedule, 5) == pytest.approx(5e-4)  # half way up the linear warmup
    assert lr(schedule, 10) == pytest.approx(1e-3)  # the peak, at the end of warmup
    assert lr(schedule, 55) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)  # half way down the cosine
    assert lr(schedule, 100) == pytest.approx(1e-5)
    assert lr(schedule, 500) == pytest.approx(1e-5)  # stays at the final rate after the run
    warmup = [lr(schedule, s) for s in range(0, 11)]
    decay = [lr(schedule, s) for s in range(10, 101)]
    assert all(a < b for a, b in zip(warmup, warmup[1:]))
    assert all(a > b for a, b in zip(decay, decay[1:]))


def test_warmup_cosine_without_warmup_starts_at_peak_and_ends_at_zero():
    schedule = WarmupCosine(2e-3, total_steps=50)
    assert lr(schedule, 0) == pytest.approx(2e-3)
    assert lr(schedule, 50) == pytest.approx(0.0, abs=1e-9)


def test_warmup_cosine_accepts_integer_variable_steps():
    # the optimizer calls the schedule with its int64 iterations variable
    schedule = WarmupCosine(1e-3, total_steps=100, warmup_steps=10)
    step = keras.Variable(5, dtype="int32", trainable=False)
    assert lr(schedule, step) == pytest.approx(5e-4)


def test_warmup_cosine_config_round_trip():
    schedule = WarmupCosine(3e-4, total_steps=1000, warmup_steps=100, final_learning_rate=1e-6)
    config = schedule.get_config()
    assert config == {
        "learning_rate": 3e-4,
        "total_steps": 1000,
        "warmup_steps": 100,
        "final_learning_rate": 1e-6,
    }
    again = WarmupCosine.from_config(config)
    assert again.get_config() == config
    serialized = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(restored, WarmupCosine)
    assert restored.get_config() == config
    for step in (0, 50, 100, 600, 1000):
        assert lr(restored, step) == pytest.approx(lr(schedule, step))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"learning_rate": 0.0, "total_steps": 10}, "learning_rate"),
        ({"learning_rate": 1e-3, "total_steps": 0}, "total_steps"),
        ({"learning_rate": 1e-3, "total_steps": 10, "warmup_steps": 11}, "warmup_steps"),
        ({"learning_rate": 1e-3, "total_steps": 10, "final_learning_rate": 1.0}, "final_learning_rate"),
    ],
)
def test_warmup_cosine_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WarmupCosine(**kwargs)


# --- compile_model --------------------------------------------------------------


def test_compile_model_uses_adamw_with_the_schedule():
    model = compile_model(tiny_model(), learning_rate=5e-4, weight_decay=0.05, total_steps=200)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(0.05)
    schedule = keras.saving.deserialize_keras_object(model.optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, WarmupCosine)
    assert schedule.get_config() == {
        "learning_rate": 5e-4,
        "total_steps": 200,
        "warmup_steps": 20,
        "final_learning_rate": 0.0,
    }
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == 0.0  # step 0


@pytest.mark.parametrize("num_classes, has_top5", [(NUM_CLASSES, True), (3, False)])
def test_compile_model_metrics(num_classes, has_top5):
    data = tiny_data(num_classes=num_classes)
    model = compile_model(tiny_model(num_classes), total_steps=10)
    results = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    assert "accuracy" in results
    assert ("top5_accuracy" in results) == has_top5
    assert 0.0 <= results["accuracy"] <= 1.0


# --- train ----------------------------------------------------------------------


def test_train_writes_history_and_best_model(tmp_path):
    data = tiny_data()
    # val_fraction=0: the test split is the validation data, so best.keras can be checked on it
    result = train(tiny_model(), data, tmp_path / "run", epochs=2, batch_size=16, verbose=0, val_fraction=0)

    assert result.out_dir == tmp_path / "run"
    assert result.initial_epoch == 0
    assert result.history["epoch"] == [1, 2]
    for key in ("loss", "accuracy", "val_accuracy", "val_top5_accuracy", "learning_rate", "elapsed_s"):
        assert len(result.history[key]) == 2, key
    assert result.best_val_accuracy == max(result.history["val_accuracy"])
    assert 0.0 <= result.best_val_accuracy <= 1.0
    assert result.history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-9)  # cosine ran out
    assert result.history["elapsed_s"][1] > result.history["elapsed_s"][0] > 0
    assert result.wall_time_s >= result.history["elapsed_s"][-1]
    assert int(result.model.optimizer.iterations) == 2 * 4  # 64 images in batches of 16

    record = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["complete"] is True
    assert record["completed_epochs"] == 2
    assert record["history"] == json.loads(json.dumps(result.history))
    assert not (tmp_path / "run" / "backup").exists()  # removed once the run finished

    # best.keras loads in safe mode with no custom_objects: WarmupCosine is registered
    best = keras.saving.load_model(result.best_model_path)
    scores = keras.ops.convert_to_numpy(best.predict(data.x_test, verbose=0))
    accuracy = float((scores.argmax(-1) == data.y_test).mean())
    assert accuracy == pytest.approx(result.best_val_accuracy)


def test_train_holds_validation_images_out_of_training(tmp_path):
    data = tiny_data(train_images=80)
    seen = {}

    class Sizes(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen["train_steps"] = batch + 1

        def on_test_batch_begin(self, batch, logs=None):
            seen["val_steps"] = batch + 1

    train(tiny_model(), data, tmp_path / "run", epochs=1, batch_size=8, verbose=0, callbacks=[Sizes()])
    # 10% of the 80 training images (8) validate; 72 train in 9 steps; the 32 test images stay unseen
    assert seen == {"train_steps": 9, "val_steps": 1}


class InterruptAt(keras.callbacks.Callback):
    """Stands in for a Colab disconnect or Ctrl-C at the start of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"interrupted at epoch {epoch + 1}")


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_interrupted_train_resumes_where_it_stopped(tmp_path):
    data = tiny_data()
    out_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_model(), data, out_dir, epochs=3, batch_size=16, verbose=0, callbacks=[InterruptAt(1)])

    info = resume_info(out_dir)
    assert info["can_resume"] and not info["complete"]
    assert info["completed_epochs"] == 1
    assert info["next_epoch"] == 2
    assert info["planned_epochs"] == 3
    first_val_accuracy = json.loads((out_dir / "history.json").read_text())["history"]["val_accuracy"]

    # A fresh model, as after a restarted Colab runtime, and the same call again.
    counter = CountEpochs()
    result = train(tiny_model(seed=2), data, out_dir, epochs=3, batch_size=16, verbose=0, callbacks=[counter])

    assert counter.epochs == [1, 2]  # only the two missing epochs ran
    assert result.initial_epoch == 1
    assert result.history["epoch"] == [1, 2, 3]
    assert len(result.history["loss"]) == 3
    assert result.history["val_accuracy"][0] == first_val_accuracy[0]  # epoch 1 kept, not redone
    # optimizer state and schedule were restored: 3 epochs of 4 steps, lr ran down to 0
    assert int(result.model.optimizer.iterations) == 3 * 4
    assert result.history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-9)
    assert result.history["elapsed_s"] == sorted(result.history["elapsed_s"])
    info = resume_info(out_dir)
    assert info["complete"] and not info["can_resume"]
    assert info["completed_epochs"] == 3

    # A later run of the same model elsewhere starts at epoch 1 again.
    counter = CountEpochs()
    again = train(result.model, data, tmp_path / "fresh", epochs=2, batch_size=16, verbose=0, callbacks=[counter])
    assert counter.epochs == [0, 1]
    assert again.history["epoch"] == [1, 2]


class CountingAugment(keras.layers.Layer):
    """An augmentation that changes nothing and counts the batches it sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.batches = 0

    def call(self, images, training=None):
        self.batches += 1
        return images


def test_train_applies_augment_to_training_batches(tmp_path):
    pytest.importorskip("vitcourse.data")
    augment = CountingAugment()
    result = train(tiny_model(), tiny_data(), tmp_path / "run", epochs=1, batch_size=16, augment=augment, verbose=0)
    assert augment.batches >= 4  # 64 images in batches of 16, through vitcourse.data.ArrayDataset
    assert result.history["epoch"] == [1]
    assert int(result.model.optimizer.iterations) == 4


def test_train_rejects_bad_inputs(tmp_path):
    data = tiny_data()
    model = tiny_model()
    with pytest.raises(ValueError, match="epochs must be"):
        train(model, data, tmp_path / "a", epochs=0, batch_size=16)
    with pytest.raises(ValueError, match="batch_size must be"):
        train(model, data, tmp_path / "a", epochs=1, batch_size=0)

    bad_labels = types.SimpleNamespace(**vars(data))
    bad_labels.y_train = data.y_train.copy()
    bad_labels.y_train[0] = NUM_CLASSES
    with pytest.raises(ValueError, match=f"num_classes={NUM_CLASSES + 1}"):
        train(model, bad_labels, tmp_path / "a", epochs=1, batch_size=16)

    wrong_shape = types.SimpleNamespace(**vars(data))
    wrong_shape.x_test = np.zeros((len(data.y_test), 16, 16, 3), "uint8")
    with pytest.raises(ValueError, match=r"input_shape=\(16, 16, 3\)"):
        train(model, wrong_shape, tmp_path / "a", epochs=1, batch_size=16)

    with pytest.raises(ValueError, match="x_train has 64 images but y_train has 10"):
        train(model, types.SimpleNamespace(**{**vars(data), "y_train": data.y_train[:10]}), tmp_path / "a", 1, 16)

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="Cannot create out_dir"):
        train(model, data, blocker / "run", epochs=1, batch_size=16)
    with pytest.raises(ValueError, match="x_test"):
        train(model, object(), tmp_path / "a", epochs=1, batch_size=16)
    assert not (tmp_path / "a").exists()  # nothing was written for rejected calls


# --- evaluate and most_confused -------------------------------------------------


def test_evaluate_from_hand_made_scores():
    # An identity "model": its predictions are the scores we feed it.
    inputs = keras.Input((7,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    scores = np.array(
        [
            [9, 8, 7, 6, 5, 4, 3],  # true 0: top-1 hit
            [9, 8, 7, 6, 5, 4, 3],  # true 4: top-5 hit only
            [9, 8, 7, 6, 5, 4, 3],  # true 6: miss
            [0, 0, 0, 0, 0, 0, 1],  # true 6: top-1 hit
        ],
        dtype="float32",
    )
    result = evaluate(model, scores, np.array([0, 4, 6, 6]), batch_size=3)
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["top5_accuracy"] == pytest.approx(0.75)
    np.testing.assert_array_equal(result["predictions"], [0, 0, 0, 6])

    # Five classes or fewer: top-5 accuracy would always be 1, so it is not reported.
    inputs = keras.Input((3,))
    small = keras.Model(inputs, keras.layers.Identity()(inputs))
    result = evaluate(small, np.eye(3, dtype="float32"), np.array([0, 2, 2]))
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["top5_accuracy"] is None


def test_evaluate_works_on_uncompiled_and_trained_models_alike(tmp_path):
    data = tiny_data()
    model = tiny_model()
    before = evaluate(model, data.x_test, data.y_test)
    scores = keras.ops.convert_to_numpy(model.predict(data.x_test, verbose=0))
    assert before["accuracy"] == pytest.approx(float((scores.argmax(-1) == data.y_test).mean()))
    result = train(model, data, tmp_path / "run", epochs=1, batch_size=32, verbose=0, val_fraction=0)
    after = evaluate(model, data.x_test, data.y_test)
    assert after["accuracy"] == pytest.approx(result.history["val_accuracy"][-1])
    assert after["top5_accuracy"] == pytest.approx(result.history["val_top5_accuracy"][-1])


def test_most_confused():
    names = ["cat", "dog", "ship", "truck"]
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    y_pred = np.array([1, 1, 0, 0, 1, 3, 3, 3, 2, 3])
    assert most_confused(y_true, y_pred, names) == [
        ("ship", "truck", 3),
        ("cat", "dog", 2),
        ("dog", "cat", 1),  # ties in class order
        ("truck", "ship", 1),
    ]
    assert most_confused(y_true, y_pred, names, k=2) == [("ship", "truck", 3), ("cat", "dog", 2)]
    assert most_confused(y_true, y_true, names) == []  # no mistakes, nothing to show
    with pytest.raises(ValueError, match="label_names"):
        most_confused([0, 4], [0, 0], names)


def test_resume_info_of_an_empty_folder(tmp_path):
    info = resume_info(tmp_path)
    assert info["next_epoch"] == 1
    assert info["completed_epochs"] == 0
    assert not info["can_resume"]
    assert info["best_val_accuracy"] is None
