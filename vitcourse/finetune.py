"""Fine-tuning a pretrained ViT: new heads, frozen backbones, averaged weights, a new resolution.

The pet breeds write-up fine-tunes an ImageNet ViT-B/16 on 37 breeds: it
replaces the classifier, trains everything with a small learning rate, averages
the weights of its three best checkpoints, and trains at 384x384 where the model
was pretrained at 224x224 (which needs a resized position table). These
functions do each step for the course's models (``vitcourse.build_model``);
:func:`keras_hub_vit` loads keras-hub's ViT, or a small random one offline.

Example::

    model = replace_head(pretrained, num_classes=5)     # a new, untrained classifier
    freeze_backbone(model)                               # a linear probe: only the head trains
    averaged = average_weights([model_a, model_b, model_c])
    model.set_weights(averaged)
    bigger = with_image_size(model, 64)                  # 64x64 images, table resized from 8x8 to 16x16

Introduced in chapter 09.
"""

import math

import keras
import numpy as np

from vitcourse.layers import Patches, PatchEncoder
from vitcourse.presets import walk_layers

HEAD = "classifier"
# keras-hub's ImageNet ViT-B/16, 224x224 inputs, 86M parameters (the pet breeds write-up's B/16)
VIT_PRESET = "vit_base_patch16_224_imagenet"
# What keras_hub_vit builds when the preset cannot be downloaded: the same class, tiny and random.
SMALL_VIT = {
    "image_shape": (32, 32, 3),
    "patch_size": 8,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 64,
    "mlp_dim": 128,
}


# ---- heads and freezing --------------------------------------------------------------------


def replace_head(model, num_classes, head=HEAD, name=None):
    """A model with ``model``'s backbone and a new, untrained ``Dense(num_classes)`` head.

    The new model shares the backbone's layers, and so their weights, with
    ``model``: training one changes the other. To keep the original, clone it
    first (``keras.models.clone_model`` and ``set_weights``) or load it again.

    Args:
        model: a functional classifier whose last layer is the Dense layer ``head``.
        num_classes: outputs of the new head (logits).
        head: name of the head to replace.
        name: name of the new model (default: the old one's).

    Example:
        >>> five = replace_head(build_model("course_vit", depth=1, num_classes=10), 5)
        >>> five.output_shape
        (None, 5)
    """
    old = model.get_layer(head)
    if not isinstance(old, keras.layers.Dense):
        raise ValueError(f"Layer {head!r} of {model.name!r} is a {type(old).__name__}, not a Dense head.")
    # the same dtype as the old head: float32 logits under mixed precision too
    outputs = keras.layers.Dense(num_classes, dtype=old.dtype_policy, name=head)(old.input)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # as the model was built
    return keras.Model(inputs, outputs, name=name or model.name)


def freeze_backbone(model, head=HEAD):
    """Freezes every layer but ``head`` (a linear probe); returns ``model``. Compile afterwards."""
    model.get_layer(head)  # fails with Keras' message if there is no such layer
    for layer in model.layers:
        layer.trainable = layer.name == head
    return model


def unfreeze(model):
    """Makes every layer trainable again; returns ``model``. Compile afterwards."""
    for layer in model.layers:
        layer.trainable = True
    return model


def parameter_counts(model):
    """``(trainable, frozen)`` parameter counts, as Keras' ``summary()`` reports them."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen


# ---- weight averaging ----------------------------------------------------------------------


def _weight_list(item):
    if isinstance(item, keras.Model):
        return item.get_weights()
    return [np.asarray(w) for w in item]


def average_weights(models_or_weight_lists):
    """The element-wise mean of several models' weights, as a list for ``model.set_weights``.

    The pet breeds write-up averaged its three best checkpoints of one run this
    way. It works for checkpoints of one run (they lie in one basin of the loss)
    and not for separately trained models (chapter 09 measures both).
    Weights that are not floating point (counters, random-number states) are
    taken from the first model.

    Args:
        models_or_weight_lists: ``keras.Model`` objects, or lists of arrays as
            ``model.get_weights()`` returns them, all of the same architecture.

    Returns:
        A list of numpy arrays, one per weight.

    Example:
        >>> average_weights([[np.zeros(2)], [np.ones(2)]])
        [array([0.5, 0.5])]
    """
    lists = [_weight_list(item) for item in models_or_weight_lists]
    if not lists:
        raise ValueError("average_weights needs at least one model or weight list.")
    first = lists[0]
    for i, other in enumerate(lists[1:], start=1):
        if len(other) != len(first):
            raise ValueError(
                f"Model 0 has {len(first)} weights and model {i} has {len(other)}: only models of "
                "the same architecture can be averaged."
            )
        for j, (a, b) in enumerate(zip(first, other)):
            if a.shape != b.shape:
                raise ValueError(
                    f"Weight {j} has shape {a.shape} in model 0 and {b.shape} in model {i}: only "
                    "models of the same architecture can be averaged."
                )
    averaged = []
    for weights in zip(*lists):
        if np.issubdtype(weights[0].dtype, np.floating):
            mean = np.mean(np.stack([w.astype("float64") for w in weights]), axis=0)
            averaged.append(mean.astype(weights[0].dtype))
        else:
            averaged.append(weights[0].copy())
    return averaged


# ---- a new resolution ----------------------------------------------------------------------


def _interpolation_matrix(old, new):
    """(new, old) weights of 1-D linear interpolation between cell centres, edges clamped.

    Cell ``j`` of ``new`` covers the same stretch of the image as the cells of
    ``old`` around ``(j + 0.5) * old / new - 0.5`` (half-pixel centres, as
    ``keras.ops.image.resize`` with ``"bilinear"`` uses).
    """
    source = np.clip((np.arange(new) + 0.5) * old / new - 0.5, 0, old - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, old - 1)
    frac = source - low
    matrix = np.zeros((new, old))
    matrix[np.arange(new), low] += 1 - frac
    matrix[np.arange(new), high] += frac
    return matrix


def resize_position_table(table, new_grid, class_token=False):
    """A position table for a ``new_grid`` x ``new_grid`` grid of patches, interpolated.

    A ViT's learned table holds one vector per patch position of the grid it was
    trained on. Fine-tuned on larger images with the same patch size, the model
    sees more patches; the ViT paper (section 3.2) interpolates the table in 2-D
    according to the positions' places in the image. This does it bilinearly
    (with numpy, on any backend); the class token's row, which has no place in
    the image, is kept as it is.

    Args:
        table: (rows, D) array: ``grid * grid`` rows, plus the class token's row
            first when ``class_token``.
        new_grid: patches per side of the new grid.
        class_token: whether the first row belongs to a class token.

    Returns:
        A float32 (``new_grid**2`` [+1], D) array.

    Example:
        >>> resize_position_table(np.zeros((65, 128)), 16, class_token=True).shape
        (257, 128)

    Reference: https://arxiv.org/abs/2010.11929 (section 3.2). Introduced in chapter 09.
    """
    table = np.asarray(keras.ops.convert_to_numpy(table), dtype="float32")
    if table.ndim != 2:
        raise ValueError(f"A position table has shape (rows, D); got {table.shape}.")
    head, grid_rows = (table[:1], table[1:]) if class_token else (table[:0], table)
    old_grid = math.isqrt(len(grid_rows))
    if old_grid * old_grid != len(grid_rows) or old_grid == 0:
        raise ValueError(
            f"{len(grid_rows)} position rows do not form a square grid"
            f"{' (after the class token row)' if class_token else ''}."
        )
    if not (isinstance(new_grid, (int, np.integer)) and new_grid >= 1):
        raise ValueError(f"new_grid must be a whole number >= 1, got {new_grid!r}.")
    grid = grid_rows.reshape(old_grid, old_grid, -1)  # (g, g, D): row-major, as the patches are cut
    m = _interpolation_matrix(old_grid, new_grid)  # (g', g)
    resized = np.einsum("ai,bj,ijd->abd", m, m, grid.astype("float64"))  # (g', g', D)
    return np.concatenate([head, resized.reshape(new_grid * new_grid, -1).astype("float32")])


_SHAPE_KEYS = ("batch_shape", "build_input_shape", "input_shape")


def _resize_shapes(config, old, new):
    """``config`` with every image shape ``(None, old, old, C)`` changed to ``new``, build shapes dropped."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "build_config":  # shapes of tokens, not images: layers build again when called
                continue
            if key in _SHAPE_KEYS and isinstance(value, (list, tuple)) and len(value) == 4 \
                    and list(value[1:3]) == [old, old]:  # fmt: skip
                value = type(value)([value[0], new, new, value[3]])
            else:
                value = _resize_shapes(value, old, new)
            out[key] = value
        return out
    if isinstance(config, list):
        return [_resize_shapes(item, old, new) for item in config]
    return config


def with_image_size(model, image_size):
    """The same course model for ``image_size`` x ``image_size`` images, weights copied.

    The patches keep their size, so the grid of patches grows (or shrinks);
    every weight is copied as it is except the position table, which
    :func:`resize_position_table` interpolates to the new grid. Works for models
    from ``vitcourse.build_model`` that cut square patches from the images as
    they come (no ``Resizing`` before the patches).

    Example:
        >>> model = build_model("course_vit", depth=1, num_classes=10)   # 32x32, 8x8 patches of 4
        >>> with_image_size(model, 64).input_shape
        (None, 64, 64, 3)
    """
    height, width = model.input_shape[1:3]
    if height != width:
        raise ValueError(f"with_image_size needs square inputs; {model.name!r} takes {height}x{width}.")
    if any(isinstance(layer, keras.layers.Resizing) for layer in walk_layers(model)):
        raise ValueError(
            f"{model.name!r} resizes its inputs before cutting patches: change that Resizing layer's "
            "size instead (the preset's image_size)."
        )
    patches = [layer for layer in model.layers if isinstance(layer, Patches)]
    encoders = [layer for layer in model.layers if isinstance(layer, PatchEncoder)]
    if len(patches) != 1 or len(encoders) != 1:
        raise ValueError(f"{model.name!r} needs exactly one Patches and one PatchEncoder layer.")
    patch = patches[0].patch_size
    if image_size % patch:
        raise ValueError(f"image_size {image_size} is not a multiple of the patch size {patch}.")
    new_grid = image_size // patch
    config = _resize_shapes(model.get_config(), height, image_size)
    for layer in config["layers"]:
        if layer["config"].get("name") == encoders[0].name:
            layer["config"]["num_patches"] = new_grid * new_grid
    resized = type(model).from_config(config)
    positions = encoders[0].positions
    table_path = positions.table.path if positions.kind == "learned" else None
    new_weights = []
    for old_var, new_var in zip(model.weights, resized.weights):
        value = keras.ops.convert_to_numpy(old_var)
        if old_var.path == table_path:
            value = resize_position_table(value, new_grid, class_token=positions.class_token)
        if tuple(value.shape) != tuple(new_var.shape):
            raise ValueError(f"Weight {old_var.path}: {value.shape} does not fit {tuple(new_var.shape)}.")
        new_weights.append(value)
    resized.set_weights(new_weights)
    return resized



# ---- keras-hub's ViT -----------------------------------------------------------------------


def keras_hub_vit(num_classes, preset=VIT_PRESET, small=None):
    """keras-hub's ``ViTImageClassifier`` from ``preset`` with a new head, or a small random one offline.

    ``ViTImageClassifier.from_preset(preset, num_classes=...)`` downloads the
    pretrained backbone (from Kaggle) and puts a new, untrained
    ``num_classes`` head on it: the ImageNet head is not kept. Without internet
    access (CI, the book build) the download fails with
    ``requests.exceptions.ConnectionError``, an ``OSError``; then this builds a
    ``ViTBackbone`` of the same class with the sizes in ``small`` (default
    :data:`SMALL_VIT`: 32x32 images, 8x8 patches, 2 layers of width 64), randomly
    initialised: it runs the same code in seconds and has learned nothing.

    ``preset=None`` skips the download (smoke mode: seconds, whatever the network).

    Returns:
        ``(classifier, pretrained)``: the model (its preprocessor resizes images
        to the backbone's input and scales them to [-1, 1]) and whether the
        preset's weights were loaded (``False``: random weights).

    Example:
        >>> classifier, pretrained = keras_hub_vit(num_classes=5)
        >>> classifier.backbone.image_shape          # (224, 224, 3) from the preset, offline (32, 32, 3)
    """
    import keras_hub

    if preset is not None:
        try:
            return keras_hub.models.ViTImageClassifier.from_preset(preset, num_classes=num_classes), True
        except OSError as error:  # requests' ConnectionError offline; kagglehub's HTTP errors too
            reason = f"{type(error).__module__}.{type(error).__name__}"
            print(f"Could not download the preset {preset!r} ({reason}): building a small, randomly "
                  "initialised ViTBackbone instead.")  # fmt: skip
    sizes = dict(SMALL_VIT, **(small or {}))
    backbone = keras_hub.models.ViTBackbone(**sizes)
    converter = keras_hub.layers.ViTImageConverter(
        image_size=sizes["image_shape"][:2], scale=1 / 127.5, offset=-1.0  # [0, 255] -> [-1, 1]
    )
    preprocessor = keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter)
    return keras_hub.models.ViTImageClassifier(backbone, num_classes, preprocessor=preprocessor), False
