"""Looking inside a trained ViT: attention maps, attention rollout, attention distance,
position-embedding similarity and the patch projection's filters.

Every function takes a model built by :func:`vitcourse.build_model` (or any
functional model made of the course's layers: plain or locality self-attention,
with or without a class token) and reads what it needs from the model itself;
nothing is rebuilt by hand. Introduced in chapter 08.

Example (a 32x32 ``course_vit``: 64 patch tokens of 4x4 pixels, 8 blocks of 4 heads)::

    maps = attention_maps(model, images)      # 8 arrays of (B, 4, 64, 64)
    rollout = attention_rollout(maps, token_layout(model))        # (B, 8, 8)
    distances = mean_attention_distance(maps, token_layout(model))  # (8, 4) pixels
    similarity = position_similarity(position_table(model), token_layout(model))  # (8, 8, 8, 8)
    photos, names = sample_photographs()      # (3, 32, 32, 3) uint8: real photographs, offline

Reference: Dosovitskiy et al., https://arxiv.org/abs/2010.11929 (figure 7);
Abnar and Zuidema, https://arxiv.org/abs/2005.00928 (attention rollout).
"""

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from vitcourse.layers import PatchEncoder, Patches, PositionEmbedding, ShiftedPatchTokenization, TransformerBlock


@dataclass(frozen=True)
class TokenLayout:
    """How a model's tokens map onto the image.

    Attributes:
        grid: patches per side (the patch tokens form a ``grid x grid`` square).
        class_token: whether token 0 is a class token (then patch tokens are 1..N).
        patch_pixels: pixels per patch side, in the image the patches were cut from.
    """

    grid: int
    class_token: bool
    patch_pixels: int

    @property
    def first_patch(self):
        return int(self.class_token)


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, PatchEncoder):
            yield layer.positions
            yield layer.projection


def _blocks(model):
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    if not blocks:
        raise ValueError(f"Model {model.name!r} has no TransformerBlock: pass a ViT built by vitcourse.build_model.")
    return blocks


def position_layer(model):
    """The model's :class:`PositionEmbedding` (inside its ``PatchEncoder`` or on its own)."""
    found = [layer for layer in _layers(model) if isinstance(layer, PositionEmbedding)]
    if len(found) != 1:
        raise ValueError(f"Model {model.name!r} has {len(found)} PositionEmbedding layers; these functions need exactly one.")
    return found[0]


def token_layout(model):
    """The :class:`TokenLayout` of ``model``, read from its layers."""
    positions = position_layer(model)
    grid = math.isqrt(positions.num_positions)
    if grid * grid != positions.num_positions:
        raise ValueError(f"{positions.num_positions} patch tokens do not form a square grid.")
    cutters = [layer for layer in model.layers if isinstance(layer, (Patches, ShiftedPatchTokenization))]
    patch_pixels = cutters[0].patch_size if cutters else 1
    return TokenLayout(grid=grid, class_token=positions.class_token, patch_pixels=patch_pixels)


def attention_maps(model, images):
    """The attention weights of every block for ``images``: a list of (B, heads, tokens, tokens) arrays.

    Row ``q`` of a map is how token ``q`` spreads its attention over all tokens (it sums to 1).
    Runs the model in inference mode (no dropout, no random augmentation).
    """
    blocks = _blocks(model)
    # The input of every block, from the model's own graph; then each block once more with its scores.
    block_inputs = keras.Model(model.input, [block.input for block in blocks])(images, training=False)
    if not isinstance(block_inputs, (list, tuple)):
        block_inputs = [block_inputs]
    maps = []
    for block, tokens in zip(blocks, block_inputs):
        _, scores = block(tokens, training=False, return_attention_scores=True)
        maps.append(ops.convert_to_numpy(ops.cast(scores, "float32")))
    return maps


def attention_rollout(maps, layout, start="class_token", residual=True):
    """Attention rollout: how much each patch contributes to the final tokens, through every block.

    Averages the heads of each block, adds the identity for the residual connection
    (``0.5 * A + 0.5 * I``, rows renormalised), and multiplies the blocks' matrices
    from the first to the last (Abnar and Zuidema, 2020). Reads the row of the class
    token (``start="class_token"``) or the average over all tokens (``start="mean"``,
    for models that average-pool), and returns it over the patches as (B, grid, grid).
    """
    if start not in ("class_token", "mean"):
        raise ValueError(f"start must be 'class_token' or 'mean', got {start!r}.")
    if start == "class_token" and not layout.class_token:
        raise ValueError("This model has no class token: use start='mean'.")
    rollout = None
    for scores in maps:
        a = scores.mean(axis=1)  # (B, T, T): heads averaged
        if residual:
            a = 0.5 * a + 0.5 * np.eye(a.shape[-1], dtype=a.dtype)
            a = a / a.sum(axis=-1, keepdims=True)
        rollout = a if rollout is None else a @ rollout
    row = rollout[:, 0] if start == "class_token" else rollout.mean(axis=1)  # (B, T)
    patches = row[:, layout.first_patch :]
    return patches.reshape(-1, layout.grid, layout.grid)


def _patch_centres(layout):
    rows, cols = np.divmod(np.arange(layout.grid * layout.grid), layout.grid)
    return np.stack([rows, cols], axis=-1) * layout.patch_pixels  # (N, 2), in pixels


def mean_attention_distance(maps, layout):
    """Mean attention distance of every head: (blocks, heads), in pixels.

    For each query patch, the distance to every key patch weighted by the attention
    it pays to it, averaged over queries and images: the "receptive field" of a head
    (the ViT paper's figure 7, right). The class token is left out, and the weights
    over the patches are renormalised to sum to 1.
    """
    centres = _patch_centres(layout)
    distance = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)  # (N, N)
    first = layout.first_patch
    result = []
    for scores in maps:
        patches = scores[:, :, first:, first:]  # (B, h, N, N)
        patches = patches / patches.sum(axis=-1, keepdims=True)
        result.append((patches * distance).sum(axis=-1).mean(axis=(0, 2)))  # (h,)
    return np.stack(result)


def position_table(model):
    """The position table a model adds to its patch tokens: (grid * grid, D), class token's row left out."""
    positions = position_layer(model)
    if positions.kind == "none":
        raise ValueError(f"Model {model.name!r} has no position embedding (kind='none').")
    table = np.asarray(ops.convert_to_numpy(positions.table), dtype="float32")
    return table[int(positions.class_token) :]


def position_similarity(table, layout):
    """Cosine similarity of each position's vector with every other: (grid, grid, grid, grid).

    ``similarity[i, j]`` is a grid-shaped map of how alike position (i, j) and every
    other position are (the ViT paper's figure 7, centre).
    """
    table = np.asarray(table, dtype="float64")
    if table.shape[0] != layout.grid**2:
        raise ValueError(f"The table has {table.shape[0]} rows, the layout {layout.grid**2} positions.")
    unit = table / np.linalg.norm(table, axis=-1, keepdims=True)
    similarity = unit @ unit.T  # (N, N)
    return similarity.reshape(layout.grid, layout.grid, layout.grid, layout.grid)


def patch_filters(model, count=28):
    """The first ``count`` principal components of the patch projection, as (count, P, P, C) images.

    The projection maps each flattened patch (P*P*C values) to D numbers; its kernel's
    principal directions in pixel space show what the model looks for in a patch
    (the ViT paper's figure 7, left). Also returns each component's share of the variance.
    """
    encoders = [layer for layer in model.layers if isinstance(layer, PatchEncoder)]
    cutters = [layer for layer in model.layers if isinstance(layer, Patches)]
    if len(encoders) != 1 or len(cutters) != 1:
        raise ValueError("patch_filters needs a model with one Patches layer and one PatchEncoder.")
    kernel = np.asarray(ops.convert_to_numpy(encoders[0].projection.kernel), dtype="float64")  # (P*P*C, D)
    p = cutters[0].patch_size
    channels = kernel.shape[0] // (p * p)
    centred = kernel - kernel.mean(axis=1, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)  # columns of u: directions in pixel space
    count = min(count, u.shape[1])
    share = s**2 / np.sum(s**2)
    return u[:, :count].T.reshape(count, p, p, channels), share[:count]


def similarity_by_distance(similarity):
    """Mean cosine similarity of two positions, by the distance between them on the grid.

    Takes :func:`position_similarity`'s (grid, grid, grid, grid) array and returns
    ``(distances, mean_similarity)``: the distinct Euclidean distances (in patches,
    0 left out) between two grid positions, ascending, and the mean similarity of all
    pairs that far apart. A table that encodes 2-D position falls with distance; one
    whose far positions are as alike as near ones encodes little beyond its neighbours.
    """
    similarity = np.asarray(similarity, dtype="float64")
    grid = similarity.shape[0]
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    distance = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])  # (N, N)
    pairs = similarity.reshape(grid * grid, grid * grid)
    rounded = np.round(distance, 6)
    distances = np.unique(rounded[rounded > 0])
    means = np.array([pairs[rounded == d].mean() for d in distances])
    return distances, means


def to_pixels(grid_map, layout):
    """A (..., grid, grid) map of patch values, enlarged to the image's pixels: (..., side, side).

    Each patch's value fills its ``patch_pixels x patch_pixels`` square, so the map can be
    drawn over the image it came from.
    """
    grid_map = np.asarray(grid_map)
    p = layout.patch_pixels
    return grid_map.repeat(p, axis=-2).repeat(p, axis=-1)


def _square(photo, size, box=None):
    from PIL import Image

    image = Image.fromarray(photo)
    if box is None:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        box = (left, top, left + side, top + side)
    return np.asarray(image.crop(box).resize((size, size), Image.LANCZOS))


def _photographs():
    from matplotlib import cbook
    from PIL import Image
    from sklearn.datasets import load_sample_images

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        portrait = np.asarray(Image.open(f).convert("RGB"))
    temple, flower = load_sample_images().images
    return [temple, flower, portrait], ["temple", "flower", "portrait"]


def sample_photographs(size=32):
    """The three photographs that the course's dependencies ship, as ``size`` x ``size`` images.

    scikit-learn's two sample images (a temple in China, a flower) and matplotlib's
    portrait of Grace Hopper: the centre square of each, resized. Returns
    ``(images, names)``: uint8 (3, size, size, 3) and ``["temple", "flower", "portrait"]``.
    They work offline, in every mode. None of them is one of CIFAR-10's classes.
    """
    photos, names = _photographs()
    return np.stack([_square(photo, size) for photo in photos]), names


def photograph_crops(count, size=32, seed=0):
    """``count`` random square crops of the three sample photographs, resized to ``size``: uint8.

    Each crop covers between a quarter and all of the photograph's shorter side, at a
    random place: many different real images from three, for averages over images
    (the mean attention distance) where no data set is at hand.
    """
    rng = np.random.default_rng(seed)
    photos, _ = _photographs()
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        height, width = photo.shape[:2]
        side = int(rng.integers(min(height, width) // 4, min(height, width) + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crops.append(_square(photo, size, (left, top, left + side, top + side)))
    return np.stack(crops)


def mosaic(tiles, gap=1, fill=np.nan):
    """Tiles (rows, cols, h, w[, C]) laid out as one image, ``gap`` pixels of ``fill`` between them.

    Draws a grid of small maps (the position similarities, the patch filters) with one
    ``imshow`` instead of one subplot per map. Returns (rows * (h + gap) - gap, cols * (w + gap) - gap[, C]).
    """
    tiles = np.asarray(tiles, dtype="float64")
    rows, cols, h, w = tiles.shape[:4]
    extra = tiles.shape[4:]
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, *extra), fill)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[r, c]
    return out
