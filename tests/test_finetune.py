"""Fine-tuning helpers (vitcourse.finetune), checked on cases whose answers are known."""

import keras
import numpy as np
import pytest

from vitcourse.finetune import (
    SMALL_VIT,
    average_weights,
    freeze_backbone,
    keras_hub_vit,
    parameter_counts,
    replace_head,
    resize_position_table,
    unfreeze,
    with_image_size,
)
from vitcourse.layers import PatchEncoder
from vitcourse.presets import build_model

SMALL = dict(depth=1, projection_dim=16, num_heads=2, key_dim=8, mlp_units=(32, 16), num_classes=3,
             augmentation="none")


def images(n=2, side=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, side, side, 3)).astype("float32")


def centres(grid):
    """Centres of a grid's cells, in units of the image side (0 to 1)."""
    return (np.arange(grid) + 0.5) / grid


def table_of(function, grid, dim=3):
    """(grid * grid, dim) rows of function(row_position, column_position), row-major."""
    rows, cols = np.meshgrid(centres(grid), centres(grid), indexing="ij")
    return np.stack([function(rows, cols) * (k + 1) for k in range(dim)], axis=-1).reshape(grid * grid, dim)


def encoder_of(model):
    return next(layer for layer in model.layers if isinstance(layer, PatchEncoder))


# ---- resize_position_table -------------------------------------------------------------------


def test_linear_table_is_resampled_exactly_between_the_old_centres():
    """A table that is a linear function of position is the same function at the new centres
    (clamped to the old centres' range at the border, as bilinear resizing does)."""

    def plane(r, c):
        return 0.3 + 2.0 * r - 1.5 * c

    old, new = 8, 14
    resized = resize_position_table(table_of(plane, old), new)
    low, high = centres(old)[0], centres(old)[-1]

    def clamped_plane(r, c):
        return plane(np.clip(r, low, high), np.clip(c, low, high))

    np.testing.assert_allclose(resized, table_of(clamped_plane, new), atol=1e-5)


def test_smooth_table_is_close_to_the_same_function_on_the_new_grid():
    def wave(r, c):
        return np.sin(2 * r) * np.cos(1.5 * c)

    resized = resize_position_table(table_of(wave, 16), 24)
    expected = table_of(wave, 24).reshape(24, 24, 3)
    # inside the old grid's centres the bilinear error is second order: small for a smooth function
    np.testing.assert_allclose(resized.reshape(24, 24, 3)[1:-1, 1:-1], expected[1:-1, 1:-1], atol=0.01)


def test_same_grid_gives_the_same_table_and_shapes_follow_the_grid():
    table = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    np.testing.assert_allclose(resize_position_table(table, 8), table, atol=1e-6)
    assert resize_position_table(table, 12).shape == (144, 5)
    assert resize_position_table(table, 4).shape == (16, 5)
    assert resize_position_table(table, 12).dtype == np.float32


def test_class_token_row_is_kept():
    rng = np.random.default_rng(1)
    table = rng.normal(size=(1 + 16, 6)).astype("float32")
    resized = resize_position_table(table, 8, class_token=True)
    assert resized.shape == (1 + 64, 6)
    np.testing.assert_array_equal(resized[0], table[0])
    np.testing.assert_allclose(resized[1:], resize_position_table(table[1:], 8), atol=1e-6)


def test_constant_table_stays_constant_up_and_down():
    table = np.tile(np.arange(4, dtype="float32"), (36, 1))
    for grid in (3, 6, 9, 12):
        np.testing.assert_allclose(resize_position_table(table, grid), np.tile(table[:1], (grid * grid, 1)), atol=1e-6)


def test_upsampling_matches_keras_bilinear_resize():
    table = np.random.default_rng(2).normal(size=(36, 4)).astype("float32")
    resized = resize_position_table(table, 15)
    reference = keras.ops.image.resize(table.reshape(1, 6, 6, 4), (15, 15), interpolation="bilinear", antialias=False)
    np.testing.assert_allclose(resized.reshape(15, 15, 4), keras.ops.convert_to_numpy(reference)[0], atol=1e-5)


@pytest.mark.parametrize(
    "table, grid, kwargs, message",
    [
        (np.zeros((10, 3)), 4, {}, "square grid"),
        (np.zeros((16, 3)), 4, {"class_token": True}, "class token"),
        (np.zeros(16), 4, {}, "rows, D"),
        (np.zeros((16, 3)), 0, {}, "new_grid"),
        (np.zeros((16, 3)), 2.5, {}, "new_grid"),
    ],
)
def test_resize_position_table_rejects_bad_input(table, grid, kwargs, message):
    with pytest.raises(ValueError, match=message):
        resize_position_table(table, grid, **kwargs)


# ---- with_image_size -------------------------------------------------------------------------


@pytest.mark.parametrize("class_token", [False, True])
def test_with_image_size_runs_on_larger_images_with_the_resized_table(class_token):
    keras.utils.set_random_seed(0)
    pooling = "class_token" if class_token else "gap"
    model = build_model("course_vit", class_token=class_token, pooling=pooling, **SMALL)
    bigger = with_image_size(model, 48)
    assert bigger.input_shape == (None, 48, 48, 3)
    assert bigger(images(2, 48)).shape == (2, 3)
    old_table = keras.ops.convert_to_numpy(encoder_of(model).positions.table)
    new_table = keras.ops.convert_to_numpy(encoder_of(bigger).positions.table)
    assert new_table.shape == (int(class_token) + 144, 16)
    np.testing.assert_allclose(new_table, resize_position_table(old_table, 12, class_token=class_token), atol=1e-6)
    # every other weight is copied as it is
    others = [(a, b) for a, b in zip(model.weights, bigger.weights) if "positions/table" not in a.path]
    assert len(others) == len(model.weights) - 1
    for a, b in others:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_with_image_size_at_the_same_size_gives_the_same_outputs():
    keras.utils.set_random_seed(1)
    model = build_model("course_vit", **dict(SMALL, augmentation="flip_shift"))
    same = with_image_size(model, 32)
    x = images(3)
    np.testing.assert_allclose(same.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_constant_table_makes_a_tiled_image_look_like_the_original():
    """With a table that is the same at every position, the model cannot tell where a patch is:
    a 64x64 image made of four copies of a 32x32 one gives the 32x32 image's output (each token
    appears four times, which attention's softmax and average pooling do not notice)."""
    keras.utils.set_random_seed(2)
    model = build_model("course_vit", **SMALL)
    table = encoder_of(model).positions.table
    row = np.random.default_rng(0).normal(size=(1, table.shape[1])).astype("float32")
    table.assign(np.tile(row, (table.shape[0], 1)))
    x = images(2)
    tiled = np.tile(x, (1, 2, 2, 1))  # (2, 64, 64, 3)
    bigger = with_image_size(model, 64)
    np.testing.assert_allclose(bigger.predict(tiled, verbose=0), model.predict(x, verbose=0), atol=1e-4)


def test_with_image_size_refuses_what_it_cannot_change():
    model = build_model("course_vit", **SMALL)
    with pytest.raises(ValueError, match="multiple of the patch size"):
        with_image_size(model, 30)
    resizing = build_model("course_vit", **dict(SMALL, image_size=16))
    with pytest.raises(ValueError, match="Resizing"):
        with_image_size(resizing, 64)


# ---- average_weights -------------------------------------------------------------------------


def test_average_weights_is_the_elementwise_mean():
    lists = [[np.full((2, 2), v, "float32"), np.array([v], "float32"), np.array([7 + v], "int64")] for v in (1.0, 2.0, 6.0)]
    averaged = average_weights(lists)
    np.testing.assert_allclose(averaged[0], np.full((2, 2), 3.0))
    np.testing.assert_allclose(averaged[1], [3.0])
    assert averaged[0].dtype == np.float32
    np.testing.assert_array_equal(averaged[2], [8])  # not floating point: the first model's


def test_average_weights_of_models_loads_into_a_model():
    keras.utils.set_random_seed(3)
    a, b = (build_model("course_vit", **SMALL) for _ in range(2))
    averaged = average_weights([a, b])
    for mean, wa, wb in zip(averaged, a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(mean, (wa + wb) / 2, atol=1e-6)
    c = build_model("course_vit", **SMALL)
    c.set_weights(averaged)
    assert c.predict(images(1), verbose=0).shape == (1, 3)
    # the average of a model with itself is the model
    np.testing.assert_allclose(average_weights([a, a, a])[0], a.get_weights()[0], atol=1e-6)


def test_average_weights_refuses_different_architectures():
    with pytest.raises(ValueError, match="at least one"):
        average_weights([])
    with pytest.raises(ValueError, match="same architecture"):
        average_weights([[np.zeros(2)], [np.zeros(2), np.zeros(1)]])
    with pytest.raises(ValueError, match="shape"):
        average_weights([[np.zeros(2)], [np.zeros(3)]])


# ---- heads and freezing ----------------------------------------------------------------------


def test_replace_head_freeze_and_unfreeze():
    keras.utils.set_random_seed(4)
    model = build_model("course_vit", **SMALL)
    five = replace_head(model, 5)
    assert five.output_shape == (None, 5)
    assert five.predict(images(2), verbose=0).shape == (2, 5)
    assert five.get_layer("block_0") is model.get_layer("block_0")  # the backbone is shared
    total = five.count_params()
    freeze_backbone(five)
    trainable, frozen = parameter_counts(five)
    assert trainable == 16 * 5 + 5  # the head's kernel and bias only
    assert trainable + frozen == total
    unfreeze(five)
    assert parameter_counts(five) == (total, 0)


def test_replace_head_needs_a_dense_head():
    model = build_model("course_vit", **SMALL)
    with pytest.raises(ValueError, match="not a Dense head"):
        replace_head(model, 5, head="final_norm")


# ---- keras-hub's ViT -------------------------------------------------------------------------


def test_keras_hub_vit_offline_builds_the_small_random_backbone(monkeypatch, capsys):
    keras_hub = pytest.importorskip("keras_hub")
    requests = pytest.importorskip("requests")

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no network")

    monkeypatch.setattr(keras_hub.models.ViTImageClassifier, "from_preset", offline)
    classifier, pretrained = keras_hub_vit(num_classes=5)
    assert pretrained is False
    assert "ConnectionError" in capsys.readouterr().out
    assert isinstance(classifier.backbone, keras_hub.models.ViTBackbone)
    assert tuple(classifier.backbone.image_shape) == SMALL_VIT["image_shape"]
    # the preprocessor resizes any image to the backbone's input
    assert classifier.predict(images(2, 20), verbose=0).shape == (2, 5)
    classifier.backbone.trainable = False
    assert sum(int(np.prod(w.shape)) for w in classifier.trainable_weights) == 64 * 5 + 5


def test_keras_hub_vit_uses_the_preset_when_it_loads(monkeypatch):
    keras_hub = pytest.importorskip("keras_hub")
    loaded = object()
    calls = []

    def fake(preset, num_classes):
        calls.append((preset, num_classes))
        return loaded

    monkeypatch.setattr(keras_hub.models.ViTImageClassifier, "from_preset", fake)
    assert keras_hub_vit(7) == (loaded, True)
    assert calls == [("vit_base_patch16_224_imagenet", 7)]


def test_keras_hub_vit_without_a_preset_does_not_download(monkeypatch):
    keras_hub = pytest.importorskip("keras_hub")

    def no_download(*args, **kwargs):
        raise AssertionError("from_preset was called")

    monkeypatch.setattr(keras_hub.models.ViTImageClassifier, "from_preset", no_download)
    classifier, pretrained = keras_hub_vit(3, preset=None, small={"num_layers": 1})
    assert pretrained is False
    assert classifier.backbone.num_layers == 1
    assert classifier.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 3)
