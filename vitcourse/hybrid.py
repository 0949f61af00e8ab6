"""CNN features as tokens: ResNet50 feature maps for a transformer, and the hybrid's records.

The ViT paper's *hybrid* (section 3.1) takes its tokens from a CNN's feature
map instead of from patches of pixels: each cell of the map is one token. The
ResNet50 Transformer question feeds a (3, 3, 2048) ResNet50 map to a transformer
through ``Flatten`` and one large ``Dense``; this module gives chapter 06 the
pieces that do it token by token:

- :func:`resnet50_grid` and :func:`sizes_for_grid`: which input sizes give
  ResNet50 a 3x3 map (65 to 96 pixels; CIFAR's 32x32 gives 1x1);
- :func:`resnet50_backbone` (ImageNet weights where they can be downloaded,
  else the same network untrained, saying so) and :func:`resnet50_features`;
- :func:`feature_tokens_model`: one token per cell, projected per token, a
  position for each of the cells, a class token or average pooling;
- :func:`pooled_vector_model`: what a pooled (2048,) vector needs instead;
- :func:`single_token_as_dense`: attention over one token is one linear layer;
- :func:`parameter_parts`: where a model's parameters are;
- :func:`hybrid_markdown`: the recorded run of ``benchmarks/hybrid.py``
  (``conv_stem_vit`` against ``course_vit`` at equal steps).

Example:

    backbone, loaded, note = resnet50_backbone(96, weights=None)   # (None, 96, 96, 3) -> (None, 3, 3, 2048)
    features = resnet50_features(backbone, images)                 # (N, 3, 3, 2048)
    model = feature_tokens_model(num_classes=10)                   # (N, 3, 3, 2048) -> (N, 10)

Reference: https://arxiv.org/abs/2010.11929 (section 3.1, "Hybrid Architecture");
https://arxiv.org/abs/2106.14881 ("Early Convolutions Help Transformers See Better").
Introduced in chapter 06.
"""

import math
import socket

import keras
import numpy as np
from keras import layers

from vitcourse.layers import PatchEncoder, TransformerBlock
from vitcourse.results import (
    _dropdown,
    _machine_short,
    _mean_sd,
    _range,
    _record_line,
    _where,
    markdown_table,
    recorded_runs,
)

RESNET50_CHANNELS = 2048
# The input size the chapter uses: CIFAR's 32x32 images upsampled 3x, the largest size whose map is 3x3.
FEATURE_INPUT_SIZE = 96
DOWNLOAD_TIMEOUT_S = 60
OFFLINE_NOTE = (
    "ResNet50's ImageNet weights could not be downloaded here ({error}). The same code runs on "
    "an untrained ResNet50 (weights=None): its features are random functions of the pixels, so "
    "anything trained on them says only that the code runs, not how well ImageNet features work."
)


def _after(size, kernel, stride, pad):
    """The side of a convolution's or pooling's output: (size + 2 pad - kernel) // stride + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def resnet50_grid(size):
    """The side of ResNet50's last feature map for a ``size`` x ``size`` input (``include_top=False``).

    ResNet50 halves the grid five times: a 7x7 convolution of stride 2 after 3 pixels
    of zero padding, a 3x3 max-pool of stride 2 after 1 pixel of padding, and one
    stride-2 1x1 convolution at the start of each of stages 3, 4 and 5. Each halving
    rounds up, so the side is ``ceil(size / 32)``, not ``size // 32``: 65 to 96
    pixels all give 3x3.

    Example:
        >>> [resnet50_grid(s) for s in (32, 64, 65, 96, 97, 224)]
        [1, 2, 3, 3, 4, 7]
    """
    side = _after(size, 7, 2, 3)  # conv1: ZeroPadding2D(3), Conv2D(64, 7, strides=2)
    side = _after(side, 3, 2, 1)  # ZeroPadding2D(1), MaxPooling2D(3, strides=2)
    for _ in range(3):  # stages conv3, conv4, conv5 open with a 1x1 convolution of stride 2
        side = _after(side, 1, 2, 0)
    return side


def sizes_for_grid(grid, sizes=range(32, 257)):
    """The square input sizes (among ``sizes``) for which ResNet50's map is ``grid`` x ``grid``."""
    return [s for s in sizes if resnet50_grid(s) == grid]


def resnet50_backbone(input_size=FEATURE_INPUT_SIZE, weights="imagenet", timeout_s=DOWNLOAD_TIMEOUT_S):
    """ResNet50 without its classifier: ``(None, input_size, input_size, 3)`` -> its last feature map.

    ``weights="imagenet"`` downloads the ImageNet weights (94 MB, once; Keras keeps
    them in ``~/.keras/models``). Without internet access the download fails; then
    the same network is built untrained (``weights=None``) and the returned note
    says so. ``weights=None`` does not try the download at all.

    Returns:
        ``(model, pretrained, note)``: the Keras model, whether it holds ImageNet
        weights, and a sentence to print (empty when the weights are ImageNet's).
    """
    shape = (input_size, input_size, 3)
    if weights is None:
        model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=shape)
        return model, False, "ResNet50 built with weights=None (no download tried): untrained, its features describe nothing yet."
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # a network that neither answers nor refuses must not hang the page
    try:
        model = keras.applications.ResNet50(weights=weights, include_top=False, input_shape=shape)
        return model, True, ""
    except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception("URL fetch failure ...")
        reason = str(error).splitlines()[0][:200]
    finally:
        socket.setdefaulttimeout(previous)
    model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=shape)
    return model, False, OFFLINE_NOTE.format(error=reason)


def resnet50_features(backbone, images, batch_size=32):
    """ResNet50 features of ``images`` (N, H, W, 3), pixels 0-255: resized to the backbone's input.

    Images are resized bilinearly to the backbone's input size and preprocessed as
    ResNet50 was trained (``keras.applications.resnet50.preprocess_input``: RGB to
    BGR, ImageNet channel means subtracted).

    Returns:
        A float32 array (N, grid, grid, 2048), e.g. (N, 3, 3, 2048) at 96x96.
    """
    shape = np.shape(images)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"resnet50_features needs RGB images of shape (N, height, width, 3) with pixels 0-255, got shape "
            f"{shape}. Add the batch axis for one image (images[None]), and repeat a grey channel "
            "(np.repeat(x, 3, axis=-1))."
        )
    size = backbone.input_shape[1:3]
    batches = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype="float32")
        batch = keras.ops.convert_to_numpy(keras.ops.image.resize(batch, size, interpolation="bilinear"))
        batch = keras.applications.resnet50.preprocess_input(batch)
        batches.append(np.asarray(backbone.predict(batch, verbose=0), dtype="float32"))
    return np.concatenate(batches) if batches else np.zeros((0, *backbone.output_shape[1:]), "float32")


def feature_tokens_model(
    input_shape=(3, 3, RESNET50_CHANNELS),
    num_classes=100,
    projection_dim=256,
    depth=2,
    num_heads=4,
    mlp_units=None,
    pooling="class_token",
    dropout=0.1,
    name="feature_tokens",
):
    """A transformer on a CNN feature map, one token per cell (the ViT paper's hybrid with 1x1 patches).

    ``(B, rows, cols, C)`` is reshaped to ``rows * cols`` tokens of ``C`` values, each
    token projected by the same ``Dense(projection_dim)`` (a ``Dense`` acts on the
    last axis), a learned position added for each of the cells (and a class token
    prepended for ``pooling="class_token"``), then ``depth`` standard pre-norm blocks
    (heads x key_dim = projection_dim), a final LayerNorm, the class token's state or
    the average of the tokens (``pooling="gap"``), and one ``Dense(num_classes)`` of logits.

    Example:
        >>> feature_tokens_model(num_classes=10).output_shape
        (None, 10)
    """
    if pooling not in ("class_token", "gap"):
        raise ValueError(f"pooling={pooling!r}; choose 'class_token' or 'gap'.")
    rows, cols, channels = input_shape
    mlp_units = list(mlp_units or (2 * projection_dim, projection_dim))
    features = keras.Input(input_shape, name="features")
    x = layers.Reshape((rows * cols, channels), name="cells_to_tokens")(features)  # (B, rows, cols, C) -> (B, N, C)
    x = PatchEncoder(rows * cols, projection_dim, class_token=pooling == "class_token", name="patch_encoder")(x)
    for i in range(depth):
        x = TransformerBlock(num_heads, projection_dim // num_heads, mlp_units, dropout=dropout, name=f"block_{i}")(x)
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    if pooling == "class_token":
        x = x[:, 0]  # (B, 1 + N, D) -> (B, D): the class token's state
    else:
        x = layers.GlobalAveragePooling1D(name="average_tokens")(x)
    outputs = layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(features, outputs, name=name)


def pooled_vector_model(num_classes=100, input_dim=RESNET50_CHANNELS, hidden_units=0, dropout=0.2, name="pooled_vector"):
    """The first (and last) layers for a pooled (2048,) vector: a dense classifier, no attention.

    ``hidden_units=0`` is a linear classifier on the features (a *linear probe*);
    otherwise one GELU hidden layer of that size first.

    Example:
        >>> pooled_vector_model(num_classes=10).count_params()
        20490
    """
    features = keras.Input((input_dim,), name="pooled_features")
    x = layers.Dropout(dropout, name="dropout")(features)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="gelu", name="hidden")(x)
    outputs = layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(features, outputs, name=name)


def single_token_as_dense(attention):
    """The one linear layer that a built ``MultiHeadAttention`` computes on a single token.

    With one key, every head's softmax is over one score, so every weight is 1 and
    each head returns its value projection: the output is
    ``(x @ Wv + bv) @ Wo + bo`` for every query and key. Folded into one matrix:

    Returns:
        ``(W, b)`` with ``attention(x, x) == x @ W + b`` for ``x`` of shape (B, 1, D).
    """
    weights = {w.path.split("/")[-2] + "/" + w.path.split("/")[-1]: keras.ops.convert_to_numpy(w) for w in attention.weights}
    value_kernel = weights["value/kernel"]  # (D, heads, key_dim)
    dim = value_kernel.shape[0]
    wv = value_kernel.reshape(dim, -1)  # (D, heads * key_dim)
    bv = weights["value/bias"].reshape(-1)  # (heads * key_dim,)
    wo = weights["attention_output/kernel"].reshape(wv.shape[1], -1)  # (heads * key_dim, D)
    return wv @ wo, bv @ wo + weights["attention_output/bias"]


# Parts of a model, by the names the presets and feature_tokens_model give their layers.
_PARTS = (
    ("features_dense", "Flatten -> Dense on all features at once"),
    ("patch_encoder", "patch encoder (projection + positions)"),
    ("block_", "transformer blocks"),
    ("final_norm", "final LayerNorm"),
    ("head_", "head MLP after Flatten"),
    ("classifier", "classifier"),
)


def parameter_parts(model):
    """Where ``model``'s parameters are: ``[(part, layers, parameters, share of the total)]``.

    Layers are grouped by the names the presets give them (``features_dense``,
    ``patch_encoder``, ``block_0``..., ``head_0``..., ``classifier``); any other
    layer with parameters is its own part. Layers without parameters are left out.
    """
    total = model.count_params()
    parts = {}
    for layer in model.layers:
        count = layer.count_params() if layer.built else 0
        if not count:
            continue
        part = next((label for prefix, label in _PARTS if layer.name.startswith(prefix)), layer.name)
        names, params = parts.get(part, ([], 0))
        parts[part] = (names + [layer.name], params + count)
    return [(part, len(names), params, params / total) for part, (names, params) in parts.items()]


def parameter_parts_text(model):
    """:func:`parameter_parts` as aligned lines of text, with the total."""
    rows = parameter_parts(model)
    width = max(len(part) for part, *_ in rows)
    lines = [f"{part:<{width}}  {count:>2} layer(s)  {params:>12,}  {share:6.1%}" for part, count, params, share in rows]
    lines.append(f"{'total':<{width}}  {'':>11}  {model.count_params():>12,}  {1:6.1%}")
    return "\n".join(lines)


# ---- the recorded run: benchmarks/hybrid.py --------------------------------------------------

_DESCRIPTIONS = {
    "course_vit": "linear 4x4 patches",
    "conv_stem_vit": "convolutional stem, 8x8 map cells",
}


def hybrid_table(record):
    """course_vit and conv_stem_vit at equal steps: parameters, held-out accuracy, training seconds."""
    headers = ["Model", "Parameters", "Held-out accuracy", "Range over seeds", "Train s per run", "Hardware"]
    rows = []
    for name, row in record["summary"].items():
        rows.append([f"`{name}`: {_DESCRIPTIONS.get(name, name)}", f"{row['parameters']:,}", _mean_sd(row), _range(row),
                     f"{row['train_seconds']['mean']:.0f}", _machine_short(record)])  # fmt: skip
    return markdown_table(headers, rows)


def hybrid_details(record, file):
    """Every run behind :func:`hybrid_table`, the data, the schedule, the record and its command."""
    runs = markdown_table(
        ["Model", "Seed", "Final train accuracy", "Held-out accuracy", "Train s"],
        [[r["model"], r["seed"], f"{100 * r['final_train_accuracy']:.1f}%", f"{100 * r['held_out_accuracy']:.1f}%",
          r["train_seconds"]] for r in record["runs"]],
    )  # fmt: skip
    return "\n\n".join([
        f"Data: {record['dataset_description']}. Budget: {record['equal_budget']} ({record['epochs']} epochs); "
        f"{record['schedule']}. Each seed sets {record['seed_controls']}.",
        runs,
        _record_line(record, file),
    ])  # fmt: skip


def hybrid_markdown(results_dir=None):
    """The recorded hybrid runs (``results/hybrid_cifar10*.json``) as markdown, for chapter 06."""
    parts = []
    for file, record in recorded_runs("hybrid_cifar10", results_dir):
        parts += [
            f"**Convolutional stem against linear patches**, recorded on {_where(record)} (`results/{file}`): "
            f"accuracy on {record['held_out_images']:,} held-out images of the CIFAR-10 JPEG copy after "
            f"{record['equal_budget']}, both models trained from scratch on {record['train_images']:,} images; "
            f"mean ± standard deviation over {len(record['seeds'])} seeds. Command: "
            f"`{record['provenance']['command']}`.",
            hybrid_table(record),
            _dropdown(f"Details: results/{file}", hybrid_details(record, file)),
        ]
    return "\n\n".join(parts) or (
        "No recorded hybrid run here: it lives in the repository's `results/` folder "
        "(`python -m benchmarks.hybrid`), which an installed package does not have."
    )


def plot_hybrid_record(record, ax=None):
    """Held-out accuracy of every run of a hybrid record, one column per model, the mean as a bar."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    names = list(record["summary"])
    for i, name in enumerate(names):
        row = record["summary"][name]
        ax.bar(i, 100 * row["mean"], width=0.6, color=f"C{i}", alpha=0.35)
        values = [100 * r["held_out_accuracy"] for r in record["runs"] if r["model"] == name]
        ax.scatter(np.full(len(values), i), values, color=f"C{i}", zorder=3, label=f"{name}: each seed")
    ax.set_xticks(range(len(names)), [f"{n}\n{record['summary'][n]['parameters']:,} params" for n in names])
    low = min(100 * r["held_out_accuracy"] for r in record["runs"])
    ax.set_ylim(max(0, math.floor(low / 5) * 5 - 10), None)
    ax.set_ylabel(f"held-out accuracy (%), {record['held_out_images']:,} images")
    ax.set_title(f"{record['equal_budget']}\nrecorded on {_where(record)}", fontsize=9)
    return ax
