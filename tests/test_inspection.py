"""Looking inside a ViT (vitcourse.inspection), on models whose answers are known."""

import itertools

import keras
import numpy as np
import pytest

from vitcourse.inspection import (
    TokenLayout,
    attention_maps,
    attention_rollout,
    mean_attention_distance,
    mosaic,
    patch_filters,
    photograph_crops,
    position_similarity,
    position_table,
    sample_photographs,
    similarity_by_distance,
    to_pixels,
    token_layout,
)
from vitcourse.layers import sincos_table
from vitcourse.presets import build_model

SMALL = dict(input_shape=(16, 16, 3), patch_size=4, depth=2, projection_dim=16, num_heads=2, key_dim=8,
             mlp_units=(32, 16), num_classes=3, augmentation="none")


def images(n=2, side=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, side, side, 3)).astype("float32")


def uniform_attention(model):
    """Zero query and key projections: every score is equal, so attention is uniform."""
    zeroed = [w for w in model.weights if "/query/" in w.path or "/key/" in w.path]
    assert zeroed, [w.path for w in model.weights]
    for weight in zeroed:
        weight.assign(np.zeros(weight.shape, "float32"))
    return model


@pytest.mark.parametrize("overrides", [{}, {"locality": True, "class_token": True, "pooling": "class_token"}])
def test_attention_maps_have_one_row_per_token_that_sums_to_one(overrides):
    model = build_model("course_vit", **SMALL, **overrides)
    layout = token_layout(model)
    tokens = 16 + int(layout.class_token)
    maps = attention_maps(model, images())
    assert len(maps) == 2 and all(m.shape == (2, 2, tokens, tokens) for m in maps)
    for m in maps:
        np.testing.assert_allclose(m.sum(axis=-1), 1.0, atol=1e-5)
    again = attention_maps(model, images())  # the model's graph is left as it was
    np.testing.assert_allclose(maps[1], again[1], atol=1e-6)
    assert model(images()).shape == (2, 3)


def test_layout_is_read_from_the_model():
    assert token_layout(build_model("course_vit", **SMALL)) == TokenLayout(grid=4, class_token=False, patch_pixels=4)
    spt = build_model("vit_small_ds", num_classes=3)
    layout = token_layout(spt)
    assert layout.grid == 12 and layout.patch_pixels == 6


def test_uniform_attention_gives_the_known_rollout_and_distance():
    model = uniform_attention(build_model("course_vit", **SMALL))
    layout = token_layout(model)
    maps = attention_maps(model, images())
    np.testing.assert_allclose(maps[0], 1 / 16, atol=1e-6)
    rollout = attention_rollout(maps, layout, start="mean")
    assert rollout.shape == (2, 4, 4)
    np.testing.assert_allclose(rollout, 1 / 16, atol=1e-6)
    # uniform attention: the mean distance is the mean distance between two patch centres
    centres = [(r * 4, c * 4) for r, c in itertools.product(range(4), repeat=2)]
    expected = np.mean([np.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.product(centres, repeat=2)])
    np.testing.assert_allclose(mean_attention_distance(maps, layout), expected, rtol=1e-5)


def test_rollout_follows_attention_through_the_blocks():
    layout = TokenLayout(grid=2, class_token=True, patch_pixels=1)
    # five tokens: the class token looks only at patch 3 (token 4); every patch looks at itself
    a = np.eye(5)[None, None].copy()
    a[0, 0, 0] = np.eye(5)[4]
    rollout = attention_rollout([a], layout, start="class_token")
    # 0.5 * attention + 0.5 * identity: half stays on the class token, half goes to patch 3
    np.testing.assert_allclose(rollout[0], [[0, 0], [0, 0.5]])
    two = attention_rollout([a, a], layout, start="class_token")
    np.testing.assert_allclose(two[0], [[0, 0], [0, 0.75]])
    with pytest.raises(ValueError, match="no class token"):
        attention_rollout([a], TokenLayout(2, False, 1), start="class_token")


def test_attention_to_far_patches_has_a_larger_distance():
    layout = TokenLayout(grid=3, class_token=False, patch_pixels=2)
    local = np.eye(9)[None, None]
    corner = np.zeros((1, 1, 9, 9))
    corner[..., 8] = 1.0  # every query attends to the bottom-right patch only
    distances = mean_attention_distance([local, corner], layout)
    assert distances[0, 0] == 0
    expected = np.mean([np.hypot(2 * (2 - r), 2 * (2 - c)) for r, c in itertools.product(range(3), repeat=2)])
    np.testing.assert_allclose(distances[1, 0], expected)


def test_position_table_and_similarity_of_the_sine_cosine_table():
    model = build_model("course_vit", **SMALL, position_embedding="sincos", class_token=True, pooling="class_token")
    table = position_table(model)
    np.testing.assert_allclose(table, np.asarray(sincos_table(17, 16))[1:], atol=1e-6)
    similarity = position_similarity(table, token_layout(model))
    assert similarity.shape == (4, 4, 4, 4)
    for i, j in itertools.product(range(4), repeat=2):
        assert similarity[i, j, i, j] == pytest.approx(1.0)
    np.testing.assert_allclose(similarity, similarity.transpose(2, 3, 0, 1), atol=1e-12)
    # sine-cosine positions are numbered in reading order: the next position is more alike than a far one
    assert similarity[0, 0, 0, 1] > similarity[0, 0, 3, 3]


def test_patch_filters_find_the_direction_of_a_rank_one_projection():
    model = build_model("course_vit", **SMALL)
    encoder = model.get_layer("patch_encoder")
    rng = np.random.default_rng(0)
    direction = rng.normal(size=48)
    weights = rng.normal(size=16)
    weights -= weights.mean()
    encoder.projection.kernel.assign(np.outer(direction, weights).astype("float32"))
    filters, share = patch_filters(model, count=3)
    assert filters.shape == (3, 4, 4, 3)
    first = filters[0].reshape(-1)
    assert abs(first @ direction) / np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-5)
    assert share[0] == pytest.approx(1.0, abs=1e-6)


def test_clear_errors():
    with pytest.raises(ValueError, match="no TransformerBlock"):
        attention_maps(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="kind='none'"):
        position_table(build_model("course_vit", **SMALL, position_embedding="none"))


def test_similarity_by_distance_of_a_known_table():
    # a 2x2 grid whose two rows of positions share a vector: (0,0)=(0,1), (1,0)=(1,1), rows orthogonal
    table = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    similarity = position_similarity(table, TokenLayout(2, False, 1))
    distances, means = similarity_by_distance(similarity)
    np.testing.assert_allclose(distances, [1.0, np.sqrt(2)], atol=1e-6)
    # distance 1: two pairs in a row (similarity 1) and two in a column (0); the diagonal: 0
    np.testing.assert_allclose(means, [0.5, 0.0], atol=1e-12)


def test_to_pixels_fills_each_patch():
    layout = TokenLayout(2, False, 3)
    values = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    pixels = to_pixels(values, layout)
    assert pixels.shape == (1, 6, 6)
    assert (pixels[0, :3, :3] == 1).all() and (pixels[0, 3:, 3:] == 4).all() and (pixels[0, :3, 3:] == 2).all()


def test_sample_photographs_and_crops_are_real_images():
    photos, names = sample_photographs(32)
    assert photos.shape == (3, 32, 32, 3) and photos.dtype == np.uint8
    assert names == ["temple", "flower", "portrait"]
    assert all(photo.std() > 20 for photo in photos)  # photographs, not flat colour
    crops = photograph_crops(6, size=16, seed=1)
    assert crops.shape == (6, 16, 16, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops, photograph_crops(6, size=16, seed=1))
    assert len({crop.tobytes() for crop in crops}) == 6


def test_inspection_works_on_a_model_loaded_from_a_file(tmp_path):
    model = build_model("course_vit", **SMALL, class_token=True, pooling="class_token")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for before, after in zip(attention_maps(model, images()), attention_maps(loaded, images())):
        np.testing.assert_allclose(before, after, atol=1e-6)
    assert token_layout(loaded) == token_layout(model)
    np.testing.assert_array_equal(position_table(loaded), position_table(model))


def test_mosaic_lays_tiles_out_with_gaps():
    tiles = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    out = mosaic(tiles, gap=1)
    assert out.shape == (2 * 3 - 1, 3 * 3 - 1)
    np.testing.assert_array_equal(out[3:5, 6:8], tiles[1, 2])
    assert np.isnan(out[2]).all() and np.isnan(out[:, 2]).all()
    assert mosaic(np.zeros((1, 2, 4, 4, 3)), gap=2, fill=1.0).shape == (4, 10, 3)


def test_chapter_08_says_what_the_shipped_model_shows():
    """Chapter 08's prose states numbers of the shipped model; they must be what its functions give."""
    import json
    from pathlib import Path

    from vitcourse.layers import sincos_table
    from vitcourse.pretrained import load_trained

    notebook = Path(__file__).resolve().parents[1] / "chapters" / "08_inside_a_vit.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    prose = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    model = load_trained()
    layout = token_layout(model)
    distance = mean_attention_distance(attention_maps(model, photograph_crops(64).astype("float32")), layout)
    _, trained = similarity_by_distance(position_similarity(position_table(model), layout))
    _, fixed = similarity_by_distance(position_similarity(sincos_table(64, 128), layout))
    _, share = patch_filters(model, count=3)
    stated = [  # (template, value, tolerance): the prose may round either way within the tolerance
        ("from {:.1f} to", distance[0].min(), 0.06),  # the first block's spread of heads
        ("to {:.1f} pixels: two heads", distance[0].max(), 0.06),
        ("({:.1f} to", distance[1:].min(), 0.06),  # blocks 2 to 4
        ("to {:.1f} pixels), and", distance[1:].max(), 0.06),
        ("from {:.1f} pixels in block 1", distance[0].mean(), 0.06),
        ("to {:.1f} in block 4", distance[-1].mean(), 0.06),
        ("about {:+.2f} for neighbours", trained[0], 0.006),
        ("{:+.2f} two patches apart", trained[2], 0.006),
        ("({:+.2f} even for the farthest pair)", fixed[-1], 0.006),
        ("the first three hold {:.0%} of it", share.sum(), 0.006),
    ]
    for template, value, tolerance in stated:
        said = {template.format(value + d) for d in (-tolerance, 0, tolerance)}
        assert any(text in prose for text in said), (
            f"chapter 08 should say {template.format(value)!r}: rerun the chapter and update its prose"
        )
