import time

import keras
import numpy as np
import pytest

import vitcourse
from vitcourse.presets import PRESETS, get_preset, prepare_model

# The parameter counts their sources report (model.summary() in the ResNet50 Transformer
# question and the 2x2 patches project, keras.io's summary for its ViT); vit_small_ds is
# keras.io's design counted the same way.
SOURCE_COUNTS = {
    "kerasio_vit": 21_759_019,
    "patches2x2_cifar10": 71_863_178,
    "resnet_features_flatten": 138_869_348,
    "vit_small_ds": 21_787_755,
}


@pytest.mark.parametrize("name", sorted(SOURCE_COUNTS))
def test_preset_reproduces_its_source_parameter_count(name):
    model = vitcourse.build_model(name)
    assert model.count_params() == SOURCE_COUNTS[name] == get_preset(name).parameters


def test_kerasio_vit_has_seven_non_trainable_normalization_values():
    model = vitcourse.build_model("kerasio_vit")
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable == 7  # mean (3) + variance (3) + count (1) of Normalization


def test_2x2_patches_position_table_is_not_a_weight():
    # Its Embedding was called on a constant outside the model: a fixed random table.
    model = vitcourse.build_model("patches2x2_cifar10")
    encoder = model.get_layer("patch_encoder")
    assert encoder.count_params() == 12 * 128 + 128


def test_every_preset_is_listed_and_described():
    assert vitcourse.list_presets() == list(PRESETS)
    for name in vitcourse.list_presets():
        text = vitcourse.describe(name)
        assert get_preset(name).source in text


def test_course_vit_is_small_and_pools():
    preset = get_preset("course_vit")
    assert preset.pooling == "gap" and preset.image_size == 0
    model = vitcourse.build_model("course_vit", num_classes=10)
    assert model.output_shape == (None, 10)
    assert model.count_params() < vitcourse.build_model("kerasio_vit").count_params() / 20


def test_overrides_change_the_model():
    model = vitcourse.build_model("course_vit", depth=2, projection_dim=32, mlp_units=(64, 32), num_classes=7)
    assert sum(layer.name.startswith("block_") for layer in model.layers) == 2
    assert model.output_shape == (None, 7)
    assert get_preset("course_vit", depth=2).parameters is None


def test_class_token_pooling():
    model = vitcourse.build_model(
        "course_vit", class_token=True, pooling="class_token", depth=1, num_classes=3
    )
    assert model.get_layer("patch_encoder").output.shape == (None, 65, 128)
    assert model(np.zeros((2, 32, 32, 3))).shape == (2, 3)


def test_conv_tokenizer_halves_the_grid_per_stage_by_pool_or_by_stride():
    small = dict(conv_filters=(4, 8, 16), projection_dim=8, num_heads=2, key_dim=4, depth=1, mlp_units=(8, 8))
    for downsample in ("max_pool", "stride"):
        model = vitcourse.build_model("conv_stem_vit", conv_downsample=downsample, **small)
        assert model.get_layer("cells_to_tokens").output.shape == (None, 16, 16)  # 32 -> 4x4 cells
        pools = [layer for layer in model.layers if layer.name.startswith("stem_pool")]
        strides = [model.get_layer(f"stem_conv_{i}").strides for i in range(3)]
        if downsample == "stride":
            assert not pools and strides == [(2, 2)] * 3
        else:
            assert len(pools) == 3 and strides == [(1, 1)] * 3
    with pytest.raises(ValueError, match="conv_downsample.*max_pool.*stride"):
        get_preset("conv_stem_vit", conv_downsample="avg")
    with pytest.raises(ValueError, match="not a multiple of 64"):
        get_preset("conv_stem_vit", conv_filters=(4, 4, 4, 4, 4, 4))


def test_preset_model_saves_and_loads_in_safe_mode(tmp_path):
    model = vitcourse.build_model("vit_small_ds", depth=1, head_units=(16,), num_classes=5)
    x = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3)).astype("float32")
    prepare_model(model, x)
    path = tmp_path / "vit_small_ds.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_prepare_model_adapts_normalization():
    model = vitcourse.build_model("kerasio_vit", depth=1, head_units=(), num_classes=3)
    x = np.full((4, 32, 32, 3), 100.0, "float32")
    x[..., 1] = 200.0
    prepare_model(model, x)
    norm = model.get_layer("augmentation").get_layer("normalization")
    np.testing.assert_allclose(np.ravel(keras.ops.convert_to_numpy(norm.mean)), [100, 200, 100], rtol=1e-5)


def test_a_small_vit_learns_digits():
    """A real learning test: a small ViT on scikit-learn's digits, held-out accuracy >= 0.8."""
    from vitcourse.data import load_digits_dataset

    keras.utils.set_random_seed(0)
    data = load_digits_dataset(image_size=16, seed=0)
    model = vitcourse.build_model(
        "course_vit", input_shape=(16, 16, 3), augmentation="none", patch_size=4,
        projection_dim=32, num_heads=2, key_dim=16, depth=2, mlp_units=(64, 32),
        num_classes=10,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    x_train = data.x_train.astype("float32") / 255.0
    model.fit(x_train, data.y_train, epochs=25, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(data.x_test.astype("float32") / 255.0, data.y_test, verbose=0)
    print(f"digits: held-out accuracy {accuracy:.3f} after {seconds:.1f} s of training")
    assert accuracy >= 0.8
