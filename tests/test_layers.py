import math

import keras
import numpy as np
import pytest

from layer_helper import run_layer_test
from vitcourse.layers import (
    LocalitySelfAttention,
    Patches,
    PatchEncoder,
    PositionEmbedding,
    ShiftedPatchTokenization,
    TransformerBlock,
    sincos_table,
)


def numpy_patches(images, p):
    """Reference patching with explicit loops: reading order, row-major pixels."""
    b, h, w, c = images.shape
    out = []
    for i in range(0, h, p):
        for j in range(0, w, p):
            out.append(images[:, i : i + p, j : j + p, :].reshape(b, -1))
    return np.stack(out, axis=1)


# ---- the shared check, once per public layer --------------------------------------------

def test_patches_layer(tmp_path):
    # 72x72 in 6x6 patches: 144 tokens of 108 values, and no weights
    run_layer_test(Patches, dict(patch_size=6), (2, 72, 72, 3), (2, 144, 108), 0, tmp_path)


def test_position_embedding_layer(tmp_path):
    run_layer_test(PositionEmbedding, dict(num_positions=16), (2, 16, 8), (2, 16, 8), 16 * 8, tmp_path)
    run_layer_test(
        PositionEmbedding, dict(num_positions=16, class_token=True), (2, 16, 8), (2, 17, 8), 17 * 8 + 8, tmp_path
    )


def test_patch_encoder_layer(tmp_path):
    # keras.io: Dense(64) on 108-value patches + a 144 x 64 table
    run_layer_test(
        PatchEncoder, dict(num_patches=144, projection_dim=64), (2, 144, 108), (2, 144, 64),
        108 * 64 + 64 + 144 * 64, tmp_path,
    )


def test_shifted_patch_tokenization_layer(tmp_path):
    # keras.io's vit_small_ds: LayerNorm(540) + Dense(540 -> 64)
    run_layer_test(
        ShiftedPatchTokenization, dict(patch_size=6, projection_dim=64), (2, 72, 72, 3), (2, 144, 64),
        2 * 540 + 540 * 64 + 64, tmp_path,
    )


def test_locality_self_attention_layer(tmp_path):
    # as many weights as keras MultiHeadAttention(4, 64) on 64-wide tokens, plus the temperature
    run_layer_test(
        LocalitySelfAttention, dict(num_heads=4, key_dim=64, dropout=0.1), (2, 10, 64), (2, 10, 64),
        66368 + 1, tmp_path,
    )


def test_transformer_block_layer(tmp_path):
    # keras.io block: 2 LayerNorms, MHA(4 heads x 64) on 64-wide tokens, MLP 128 -> 64
    run_layer_test(
        TransformerBlock, dict(num_heads=4, key_dim=64, mlp_units=[128, 64]), (2, 144, 64), (2, 144, 64),
        83200, tmp_path,
    )
    run_layer_test(
        TransformerBlock, dict(num_heads=2, key_dim=8, mlp_units=[32, 16], locality=True),
        (2, 9, 16), (2, 9, 16), None, tmp_path,
    )


# ---- what each layer does ------------------------------------------------------------------

@pytest.mark.parametrize("shape,p", [((2, 72, 72, 3), 6), ((3, 32, 32, 3), 2), ((1, 8, 12, 1), 4)])
def test_patches_match_numpy_reference(shape, p):
    images = np.random.default_rng(1).integers(0, 255, shape).astype("float32")
    got = keras.ops.convert_to_numpy(Patches(p)(images))
    np.testing.assert_array_equal(got, numpy_patches(images, p))


def test_patches_accept_uint8_images():
    images = np.random.default_rng(2).integers(0, 255, (2, 32, 32, 3)).astype("uint8")
    out = Patches(4)(images)
    assert out.shape == (2, 64, 48)
    assert "float" in str(out.dtype)


def paper_sincos(position, column, dim):
    """Vaswani et al. (2017), section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same)."""
    i = column // 2
    angle = position / 10000 ** (2 * i / dim)
    return math.sin(angle) if column % 2 == 0 else math.cos(angle)


@pytest.mark.parametrize("num_positions, dim", [(10, 8), (5, 6), (3, 7)])
def test_sincos_table_is_the_papers_formula(num_positions, dim):
    table = sincos_table(num_positions, dim)
    assert table.shape == (num_positions, dim) and table.dtype == np.float32
    expected = np.array([[paper_sincos(p, c, dim) for c in range(dim)] for p in range(num_positions)])
    np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-6)


def test_sincos_table_known_values():
    table = sincos_table(2, 4)
    # position 0: sin 0 = 0 in even columns, cos 0 = 1 in odd ones
    np.testing.assert_array_equal(table[0], [0.0, 1.0, 0.0, 1.0])
    # position 1: the first pair turns at rate 1, the second at 1 / 10000^(2/4) = 1/100
    np.testing.assert_allclose(table[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], rtol=1e-6)
    np.testing.assert_allclose(table[1, :2], [0.84147098, 0.54030231], rtol=1e-6)


def added_table(layer, num_positions, dim, batch=2):
    """What ``layer`` adds to its input: its output for all-zero tokens, checked to be the same for any tokens."""
    zeros = np.zeros((batch, num_positions, dim), "float32")
    added = keras.ops.convert_to_numpy(layer(zeros))
    tokens = np.random.default_rng(5).normal(size=(batch, num_positions, dim)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(tokens))
    np.testing.assert_allclose(out - tokens, added, rtol=1e-5, atol=1e-5)  # it adds, it does not replace
    np.testing.assert_allclose(added[0], added[1], rtol=0, atol=0)  # the same table for every image
    return added[0]


def test_sincos_position_embedding_adds_exactly_the_table():
    added = added_table(PositionEmbedding(6, kind="sincos"), 6, 8)
    np.testing.assert_allclose(added, sincos_table(6, 8), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(added[0], [0.0, 1.0] * 4)  # position 0 of the paper's table
    assert np.abs(added).max() > 0.5


def test_sincos_with_a_class_token_gives_the_class_token_position_0():
    layer = PositionEmbedding(4, kind="sincos", class_token=True)
    out = keras.ops.convert_to_numpy(layer(np.zeros((1, 4, 6), "float32")))[0]
    # the class token starts at zero, so its row is the table's row 0; the patches get rows 1..4
    np.testing.assert_allclose(out, sincos_table(5, 6), rtol=1e-6, atol=1e-6)


def test_fixed_random_position_embedding_adds_a_fixed_seeded_table(tmp_path):
    layer = PositionEmbedding(16, kind="fixed_random", seed=3)
    added = added_table(layer, 16, 8)
    # not zeros, spread like its initialiser (uniform in +-0.05), different for each position
    assert np.abs(added).max() > 0.01 and np.all(np.abs(added) <= 0.05)
    assert np.std(added) > 0.01
    assert len({tuple(row) for row in added.round(6)}) == 16
    # not trainable: no weights at all, and a training step leaves it unchanged
    assert layer.count_params() == 0 and not layer.trainable_weights
    np.testing.assert_array_equal(added_table(layer, 16, 8), added)  # the same on every call
    # seeded: the same seed gives the same table, another seed another one
    np.testing.assert_array_equal(added_table(PositionEmbedding(16, kind="fixed_random", seed=3), 16, 8), added)
    other = added_table(PositionEmbedding(16, kind="fixed_random", seed=4), 16, 8)
    assert not np.allclose(other, added)

    # fixed through training and through a .keras file
    inputs = keras.Input((16, 8))
    model = keras.Model(inputs, keras.layers.Dense(1)(PositionEmbedding(16, kind="fixed_random", seed=3)(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.zeros((4, 16, 8), "float32"), np.ones((4, 16, 1), "float32"), epochs=2, verbose=0)
    trained = model.layers[1]
    np.testing.assert_allclose(added_table(trained, 16, 8), added, rtol=0, atol=0)
    path = tmp_path / "fixed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True).layers[1]
    np.testing.assert_allclose(added_table(loaded, 16, 8), added, rtol=0, atol=0)


def test_fixed_position_embeddings_have_no_weights_and_are_reproducible():
    for kind in ("sincos", "fixed_random", "none"):
        layer = PositionEmbedding(16, kind=kind, seed=3)
        x = np.zeros((1, 16, 8), "float32")
        out = keras.ops.convert_to_numpy(layer(x))
        assert layer.count_params() == 0
        again = keras.ops.convert_to_numpy(PositionEmbedding(16, kind=kind, seed=3)(x))
        np.testing.assert_array_equal(out, again)
    # "none" adds nothing
    np.testing.assert_array_equal(added_table(PositionEmbedding(16, kind="none"), 16, 8), 0.0)


def test_class_token_is_prepended():
    layer = PositionEmbedding(4, kind="none", class_token=True)
    tokens = np.ones((2, 4, 3), "float32")
    out = keras.ops.convert_to_numpy(layer(tokens))
    assert out.shape == (2, 5, 3)
    np.testing.assert_array_equal(out[:, 0], 0.0)  # the class token starts at zero
    np.testing.assert_array_equal(out[:, 1:], 1.0)


def test_position_embedding_on_a_grid_broadcasts_over_rows():
    # seed 000's PatchEncoder(num_patches=3) on (B, 3, 3, 512) features
    layer = PatchEncoder(3, 8)
    assert layer(np.zeros((2, 3, 3, 5), "float32")).shape == (2, 3, 3, 8)
    assert layer.count_params() == 5 * 8 + 8 + 3 * 8


def test_shifted_patch_tokenization_shifts_by_half_a_patch():
    spt = ShiftedPatchTokenization(4, 8)
    image = np.arange(8 * 8, dtype="float32").reshape(1, 8, 8, 1)
    spt(image)
    captured = {}
    original = spt.patches.call

    def spy(x):
        captured["x"] = keras.ops.convert_to_numpy(x)
        return original(x)

    spt.patches.call = spy
    spt(image)
    stacked = captured["x"][0]  # (8, 8, 5): the image, then left-up, left-down, right-up, right-down
    img = image[0, :, :, 0]
    np.testing.assert_array_equal(stacked[:, :, 0], img)
    np.testing.assert_array_equal(stacked[:6, :6, 1], img[2:, 2:])  # left-up: content moves up-left
    np.testing.assert_array_equal(stacked[2:, :6, 2], img[:6, 2:])  # left-down
    np.testing.assert_array_equal(stacked[:6, 2:, 3], img[2:, :6])  # right-up
    np.testing.assert_array_equal(stacked[2:, 2:, 4], img[:6, :6])  # right-down
    assert stacked[7, 7, 1] == 0 and stacked[0, 0, 4] == 0  # zero fill


def test_locality_self_attention_masks_the_diagonal():
    lsa = LocalitySelfAttention(2, 4)
    x = np.random.default_rng(0).normal(size=(3, 6, 8)).astype("float32")
    _, weights = lsa(x, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    assert weights.shape == (3, 2, 6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.abs(np.diagonal(weights, axis1=-2, axis2=-1)).max() < 1e-6
    assert lsa.temperature.trainable


def test_lsa_without_its_changes_is_plain_attention():
    """No mask and a fixed sqrt(key_dim) temperature: same outputs as keras MultiHeadAttention."""
    x = np.random.default_rng(1).normal(size=(2, 5, 8)).astype("float32")
    mha = keras.layers.MultiHeadAttention(2, 4)
    expected = keras.ops.convert_to_numpy(mha(x, x))
    lsa = LocalitySelfAttention(2, 4, diagonal_mask=False, learn_temperature=False)
    lsa(x)
    q, k, v, o = (mha.query_dense, mha.key_dense, mha.value_dense, mha.output_dense)
    for dense, ours in ((q, lsa.query), (k, lsa.key), (v, lsa.value)):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
        ours.set_weights([kernel.reshape(8, 8), bias.reshape(8)])
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in o.weights)
    lsa.output_dense.set_weights([kernel.reshape(8, 8), bias])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lsa(x)), expected, rtol=1e-5, atol=1e-5)


def test_transformer_block_returns_attention_scores():
    block = TransformerBlock(2, 8, [32, 16])
    out, scores = block(np.zeros((2, 9, 16), "float32"), return_attention_scores=True)
    assert out.shape == (2, 9, 16)
    assert scores.shape == (2, 2, 9, 9)


def test_transformer_block_is_residual():
    # with every MLP output and the attention output at zero, the block is the identity
    block = TransformerBlock(2, 4, [16, 8], dropout=0.0)
    x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    block(x)
    for w in block.attention.output_dense.weights + block.mlp[-2].weights:
        w.assign(np.zeros(w.shape, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), x, atol=1e-6)
