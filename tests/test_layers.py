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


def test_sincos_table_is_sine_and_cosine():
    table = sincos_table(10, 8)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(table[3, 1], np.cos(3.0), rtol=1e-6)
    np.testing.assert_allclose(table[0, 1::2], 1.0)


def test_fixed_position_embeddings_have_no_weights_and_are_reproducible():
    for kind in ("sincos", "fixed_random", "none"):
        layer = PositionEmbedding(16, kind=kind, seed=3)
        x = np.zeros((1, 16, 8), "float32")
        out = keras.ops.convert_to_numpy(layer(x))
        assert layer.count_params() == 0
        again = keras.ops.convert_to_numpy(PositionEmbedding(16, kind=kind, seed=3)(x))
        np.testing.assert_array_equal(out, again)


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
