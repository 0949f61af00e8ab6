"""Tests of vitcourse.training: the schedule, compile, a resumable train, evaluation helpers.

The models here are tiny Flatten + Dense classifiers on 8x8 random images, so
the tests do not depend on the presets and run in seconds on every backend.
"""

import json
import types

import keras
import numpy as np
import pytest
from tiny_training import NUM_CLASSES, InterruptAt, tiny_data, tiny_model

from vitcourse.training import compile_model, evaluate, most_confused, resume_info, train


def lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def schedule_of(model):
    return keras.saving.deserialize_keras_object(model.optimizer.get_config()["learning_rate"])


# --- the warmup-cosine schedule: Keras's CosineDecay with warmup ---------------------


def test_compile_model_uses_adamw_with_keras_cosine_decay():
    model = compile_model(tiny_model(), learning_rate=5e-4, weight_decay=0.05, total_steps=200)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(0.05)
    schedule = schedule_of(model)
    assert type(schedule) is keras.optimizers.schedules.CosineDecay  # the library's, not ours
    config = schedule.get_config()
    assert config["initial_learning_rate"] == 0.0 and config["warmup_target"] == pytest.approx(5e-4)
    assert config["warmup_steps"] == 20 and config["decay_steps"] == 180 and config["alpha"] == 0.0
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == 0.0  # step 0


def test_learning_rate_at_start_end_of_warmup_and_end():
    schedule = schedule_of(compile_model(tiny_model(), learning_rate=1e-3, total_steps=100, warmup_fraction=0.1))
    assert lr(schedule, 0) == 0.0
    assert lr(schedule, 5) == pytest.approx(5e-4)  # half way up the linear warmup
    assert lr(schedule, 10) == pytest.approx(1e-3)  # the peak, at the end of warmup
    assert lr(schedule, 55) == pytest.approx(5e-4)  # half way down the cosine
    assert lr(schedule, 100) == pytest.approx(0.0, abs=1e-9)  # the end of the run
    assert lr(schedule, 500) == pytest.approx(0.0, abs=1e-9)  # and after it
    warmup = [lr(schedule, s) for s in range(0, 11)]
    decay = [lr(schedule, s) for s in range(10, 101)]
    assert all(a < b for a, b in zip(warmup, warmup[1:]))
    assert all(a > b for a, b in zip(decay, decay[1:]))
    # the optimizer calls the schedule with its integer iterations variable
    assert lr(schedule, keras.Variable(5, dtype="int32", trainable=False)) == pytest.approx(5e-4)


def test_learning_rate_without_warmup_starts_at_the_peak():
    schedule = schedule_of(compile_model(tiny_model(), learning_rate=2e-3, total_steps=50, warmup_fraction=0))
    assert lr(schedule, 0) == pytest.approx(2e-3)
    assert lr(schedule, 50) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"total_steps": 0}, "total_steps must be"),
        ({"warmup_fraction": 1.5}, "warmup_fraction must be between 0 and 1"),
    ],
)
def test_compile_model_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compile_model(tiny_model(), **{"total_steps": 10, **kwargs})


# --- compile_model --------------------------------------------------------------


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

    # best.keras loads in safe mode with no custom_objects (tests/test_saved_files.py
    # checks that in a fresh process that imports only vitcourse)
    best = keras.saving.load_model(result.best_model_path, safe_mode=True)
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
    with pytest.raises(ValueError, match=r"Cannot write into out_dir .*\(Not a directory\)"):
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


def test_jax_compiles_the_step_even_with_keras_random_translation():
    """Keras marks RandomTranslation supports_jit=False, which would turn XLA off for the whole step on JAX."""
    from vitcourse.presets import build_model

    model = build_model(
        "course_vit", num_classes=3, depth=1, projection_dim=16, num_heads=2, mlp_units=(32, 16), patch_size=8
    )
    assert any(isinstance(layer, keras.layers.RandomTranslation) for layer in model.get_layer("augmentation").layers)
    compile_model(model, total_steps=2)
    assert model.jit_compile is (keras.backend.backend() == "jax")  # TensorFlow on a CPU: its own "auto", off
    x = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 3, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    compile_model(model, total_steps=2, jit_compile=False)
    assert model.jit_compile is False  # an explicit choice is kept


@pytest.mark.parametrize("layer", [keras.layers.RandomRotation(0.02), keras.layers.RandomZoom(0.2, 0.2)])
def test_the_other_keras_image_layers_compile_under_jax_jit(layer):
    """kerasio_vit's rotation and zoom, also marked supports_jit=False, transform images inside jax.jit."""
    from vitcourse.training import JAX_JITTABLE

    assert isinstance(layer, JAX_JITTABLE)
    if keras.backend.backend() != "jax":
        pytest.skip("compile_model marks these layers jittable on JAX only")
    import jax

    images = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
    out = np.asarray(jax.jit(lambda x: layer(x, training=True))(images))
    assert out.shape == images.shape and np.isfinite(out).all()
    assert not np.allclose(out, images)  # it transformed them
