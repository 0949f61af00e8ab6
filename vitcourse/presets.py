"""Named model presets, as data, and the one builder that turns them into Keras models.

A preset that reproduces a design from elsewhere (keras.io's ViT, a reader's
model from the course's questions) reproduces it exactly, parameter count
included; ``tests/test_presets.py`` checks the counts.
"""

import dataclasses
from dataclasses import dataclass, field

import keras
from keras import layers

from vitcourse.layers import (
    POSITION_EMBEDDINGS,
    Patches,
    PatchEncoder,
    PositionEmbedding,
    ShiftedPatchTokenization,
    TransformerBlock,
)

TOKENIZERS = ("patches", "reshape", "spt", "features", "conv")
POOLINGS = ("flatten", "class_token", "gap")
AUGMENTATIONS = ("kerasio", "flip_shift", "none")
CONV_DOWNSAMPLES = ("max_pool", "stride")
# Per-channel mean and standard deviation of the CIFAR-10 training images.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Preset:
    """A ViT design, as data. ``build_model(name, **overrides)`` builds one.

    Architecture fields:
        input_shape: shape of one input (an image, or ResNet50 features).
        num_classes: size of the output.
        augmentation: ``"kerasio"`` (Normalization adapted on the training
            images, Resizing, RandomFlip, RandomRotation, RandomZoom, all inside
            the model), ``"flip_shift"`` (fixed CIFAR normalisation, random flip
            and translation) or ``"none"``.
        image_size: images are resized to this size inside the model (0: no resize).
        tokenizer: ``"patches"`` (square patches), ``"reshape"`` (a plain reshape
            of the pixel rows into ``patch_size**2``-pixel tokens, as the 2x2
            patches project does), ``"spt"`` (Shifted Patch Tokenization) or ``"features"``
            (flatten, dense, reshape to a grid: the ResNet50 Transformer question's features)
            or ``"conv"`` (a small convolutional stem whose feature map cells are the
            tokens, as in CCT and the ViT paper's hybrid; see ``conv_filters``).
        conv_filters: for ``tokenizer="conv"``, the filters of each stage, one
            3x3 convolution + ReLU + 3x3 max-pool of stride 2 per stage, so each
            stage halves the grid: ``(64, 128)`` turns 32x32 into 8x8 = 64 tokens.
        conv_downsample: how each conv stage halves the grid: ``"max_pool"``
            (CCT's conv at full size, then the pool) or ``"stride"`` (one 3x3
            convolution of stride 2, as in "Early Convolutions Help Transformers
            See Better"), which computes only the output cells: a quarter of the work.
        patch_size, projection_dim, num_heads, key_dim, depth, mlp_units:
            the transformer's sizes (``key_dim`` 0 means ``projection_dim // num_heads``).
        position_embedding, class_token: see :class:`vitcourse.layers.PositionEmbedding`.
        pooling: ``"flatten"``, ``"class_token"`` or ``"gap"`` (global average).
        head_units: hidden sizes of the classifier MLP, each with ``head_dropout``.
        locality: Locality Self-Attention in every block.
        output_activation: ``None`` for logits or ``"softmax"``.

    Training fields (the recipe ``python -m vitcourse train`` uses):
        learning_rate, weight_decay, batch_size, epochs.

    Provenance fields: ``source`` (where the design comes from), ``dataset``,
    ``expected_accuracy`` (as its source reports it, or as we measured it,
    saying which), ``runtime``, ``command`` (the one command that reproduces
    it), ``notes`` (why the design is what it is) and ``parameters`` (the
    count its source reports, checked by the tests).
    """

    name: str
    input_shape: tuple = (32, 32, 3)
    num_classes: int = 100
    augmentation: str = "none"
    image_size: int = 0
    tokenizer: str = "patches"
    patch_size: int = 4
    features_units: int = 0
    conv_filters: tuple = ()
    conv_downsample: str = "max_pool"
    projection_dim: int = 64
    position_embedding: str = "learned"
    class_token: bool = False
    embedding_dropout: float = 0.0
    num_heads: int = 4
    key_dim: int = 0
    depth: int = 8
    mlp_units: tuple = (128, 64)
    mlp_output_activation: bool = False
    dropout: float = 0.1
    attention_dropout: float = 0.0
    locality: bool = False
    epsilon: float = 1e-6
    pooling: str = "flatten"
    representation_dropout: float = 0.0
    head_units: tuple = ()
    head_dropout: float = 0.0
    output_activation: str | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    epochs: int = 100
    source: str = ""
    dataset: str = ""
    expected_accuracy: str = ""
    runtime: str = ""
    command: str = ""
    notes: str = ""
    parameters: int | None = field(default=None, compare=False)

    def grid(self):
        """Image side after resizing, and number of tokens."""
        side = self.image_size or self.input_shape[0]
        if self.tokenizer == "features":
            return side, self.input_shape[0] * self.input_shape[1]
        if self.tokenizer == "conv":
            return side, (side // 2 ** len(self.conv_filters)) ** 2
        return side, (side // self.patch_size) ** 2


KERASIO_VIT = Preset(
    name="kerasio_vit",
    num_classes=100,
    augmentation="kerasio",
    image_size=72,
    patch_size=6,
    projection_dim=64,
    num_heads=4,
    key_dim=64,
    depth=8,
    mlp_units=(128, 64),
    mlp_output_activation=True,
    dropout=0.1,
    attention_dropout=0.1,
    pooling="flatten",
    representation_dropout=0.5,
    head_units=(2048, 1024),
    head_dropout=0.5,
    learning_rate=1e-3,
    weight_decay=1e-4,
    batch_size=256,
    epochs=100,
    source="keras.io, 'Image classification with Vision Transformer' (the model of the Keras ViT study notes)",
    dataset="CIFAR-100",
    expected_accuracy="55% top-1, 82% top-5 after 100 epochs (keras.io's own claim)",
    runtime="keras.io does not say; see benchmarks/ for our measurements",
    command="python -m vitcourse train --preset kerasio_vit --dataset cifar100 --epochs 100",
    parameters=21_759_019,
)

PATCHES2X2_CIFAR10 = Preset(
    name="patches2x2_cifar10",
    num_classes=10,
    tokenizer="reshape",
    patch_size=2,
    projection_dim=128,
    position_embedding="fixed_random",
    embedding_dropout=0.1,
    num_heads=4,
    key_dim=128,
    depth=8,
    mlp_units=(256, 128),
    mlp_output_activation=True,
    dropout=0.1,
    pooling="flatten",
    representation_dropout=0.5,
    head_units=(2048, 1024),
    head_dropout=0.5,
    output_activation="softmax",
    learning_rate=2e-4,
    weight_decay=0.0,
    batch_size=512,
    epochs=20,
    source="the 2x2 patches project, a student's CIFAR-10 ViT",
    dataset="CIFAR-10 (5,000 training images in the original)",
    expected_accuracy="27.3% as its authors report, on 5,000 training images",
    runtime="not reported",
    command="python -m vitcourse train --preset patches2x2_cifar10 --dataset cifar10 --epochs 20",
    parameters=71_863_178,
)

RESNET_FEATURES_FLATTEN = Preset(
    name="resnet_features_flatten",
    input_shape=(3, 3, 2048),
    num_classes=100,
    tokenizer="features",
    features_units=4608,
    projection_dim=512,
    num_heads=4,
    key_dim=512,
    depth=8,
    mlp_units=(1024, 512),
    mlp_output_activation=True,
    dropout=0.1,
    attention_dropout=0.1,
    pooling="flatten",
    representation_dropout=0.5,
    head_units=(2048, 1024),
    head_dropout=0.5,
    source="the ResNet50 Transformer question (Data Science Stack Exchange 103655): ResNet50 features + transformer",
    dataset="CIFAR-100 as (3, 3, 2048) ResNet50 features",
    expected_accuracy="the reader stopped early on poor metrics; no figure reported",
    runtime="not reported",
    command="(needs ResNet50 features; see the hybrid chapter)",
    parameters=138_869_348,
)

# keras.io's small-datasets example is its ViT with two changes: Shifted Patch
# Tokenization and Locality Self-Attention; 50 epochs instead of 100.
VIT_SMALL_DS = dataclasses.replace(
    KERASIO_VIT,
    name="vit_small_ds",
    tokenizer="spt",
    locality=True,
    epochs=50,
    source="keras.io, 'Train a Vision Transformer on small datasets' (the small datasets example)",
    expected_accuracy="not stated in the small datasets example; the SPT/LSA paper reports 76.9% for its SL-ViT",
    runtime="not reported",
    command="python -m vitcourse train --preset vit_small_ds --dataset cifar100 --epochs 50",
    parameters=21_787_755,
)

COURSE_VIT = Preset(
    name="course_vit",
    num_classes=100,
    augmentation="flip_shift",
    patch_size=4,
    projection_dim=128,
    num_heads=4,
    key_dim=32,
    depth=6,
    mlp_units=(256, 128),
    dropout=0.0,
    pooling="gap",
    learning_rate=1e-3,
    weight_decay=0.05,
    batch_size=256,
    epochs=100,
    source="this course",
    dataset="CIFAR-100 / CIFAR-10 at 32x32",
    expected_accuracy="not yet measured on a full run; see results/ and benchmarks/",
    runtime="see benchmarks/README.md",
    command="python -m vitcourse train --preset course_vit --dataset cifar100 --epochs 100",
    notes="""Our default recipe for 32x32 images, made to learn more per GPU-minute:
- No resize to 72x72: the 32x32 image is cut into 4x4 patches, 64 tokens
  instead of 144. Resizing adds no information, and attention's cost grows
  with the square of the number of tokens ((144/64)^2 = 5x).
- No flatten head: keras.io's Flatten -> Dense(2048) holds 18.9M of its 21.8M
  parameters. Global average pooling of the tokens and one linear layer cost
  a few thousand parameters and leave the capacity in the transformer.
- Standard heads (4 heads of 32 = 128 = the token size) instead of keras.io's
  4 heads of 64 on 64-wide tokens.
- Cheap augmentation inside the model (flip and shift), so it runs on the
  accelerator on every backend; strong weight decay (0.05) as in DeiT.""",
)
# The hybrid chapter's model trained from scratch: course_vit whose tokens are
# the cells of a small convolutional stem's feature map instead of linear patches.
CONV_STEM_VIT = dataclasses.replace(
    COURSE_VIT,
    name="conv_stem_vit",
    tokenizer="conv",
    conv_filters=(64, 128),
    source="this course: the ViT paper's hybrid and CCT's tokenizer, at CIFAR scale",
    expected_accuracy=(
        "45.3% ± 1.7 held-out accuracy (3 seeds, depth=4, 10 classes) on 2,000 held-out images of the "
        "CIFAR-10 JPEG copy after 234 steps of 128 images (3 epochs of 10,000), against 38.1% ± 1.6 for "
        "course_vit at the same steps (results/hybrid_cifar10_cpu-2core.json)"
    ),
    runtime=(
        "about 120 s per 234-step run on a 2-core CPU (AMD EPYC, TensorFlow), 1.9x course_vit's; "
        "python -m benchmarks.hybrid: about 10 minutes"
    ),
    command="python -m benchmarks.hybrid",
    notes="""course_vit with a convolutional tokenizer: two stages of conv 3x3 + ReLU +
max-pool (stride 2) turn a 32x32 image into an 8x8 map of 128 channels, whose 64
cells are the tokens (as many as course_vit's 4x4 patches). The convolutions
give each token a view of its neighbourhood and the translation equivariance
that linear patches lack ("Early Convolutions Help Transformers See Better").""",
)
# The laptop recipe: what learned most in 30 minutes of a 2-core CPU, in float32 (benchmarks/README.md, 1c).
# Reproduce: the `command` field; hardware, time and accuracy: `runtime` and `expected_accuracy`,
# which tests/test_results.py checks against the two recorded runs.
LAPTOP_VIT = dataclasses.replace(
    COURSE_VIT,
    name="laptop_vit",
    num_classes=10,
    tokenizer="conv",
    conv_filters=(32, 64, 128),
    conv_downsample="stride",
    depth=4,
    batch_size=64,
    epochs=20,
    source="this course: the laptop recipe, course_vit with a strided convolutional stem",
    dataset="CIFAR-10 at 32x32, on a CPU",
    expected_accuracy=(
        "73.9% (seed=0) and 69.4% (seed=1) accuracy on the 5,000 held-out images of the CIFAR-10 JPEG copy "
        "after 1800 s of training on the other 45,000, in float32; 80% not reached. The seed=1 run went "
        "slower than its timing probe (other work on the machine), so the budget stopped it after 8,386 of "
        "16,248 planned steps, halfway down its learning-rate schedule "
        "(results/equal_budget_cifar10_cpu-2core_laptop_vit_30min_seed0.json and ..._seed1.json)"
    ),
    runtime=(
        "1800 s of training per run (seed=0: 13,413 steps of 64 images, 19 epochs; 60% after 801 s) on a "
        "2-core AMD EPYC with AVX2 and no AVX-512 or bfloat16 units, JAX, float32; about 31 minutes with "
        "the evaluations"
    ),
    command=(
        "KERAS_BACKEND=jax python -m benchmarks.equal_budget --budget-seconds 1800 --dataset cifar10_jpeg "
        "--evaluations 12 --presets laptop_vit --seed 0"
    ),
    notes="""course_vit made to learn as much as it can in 30 minutes of a 2-core CPU,
in float32 (so on any CPU; bfloat16 pays only where the CPU has bfloat16 units):
- Tokens from three 3x3 convolutions of stride 2 (32 -> 16 -> 8 -> 4): 16 tokens
  of 128 channels, each seeing a 15x15-pixel neighbourhood, as in "Early
  Convolutions Help Transformers See Better" (Xiao et al., 2021). 16 tokens
  make attention cheap; the convolutions give the tokens what linear 8x8
  patches lack. Strided convolutions compute a quarter of what CCT's
  convolution + max-pool stages do for the same grid, so more steps fit in
  the time (the lever table in benchmarks/README.md).
- 4 blocks rather than 6: in minutes of a CPU, more and cheaper steps won;
  batches of 128 at learning rate 2e-3 did no better than batches of 64
  (the lever table in benchmarks/README.md).
- The rest is course_vit's: average pooling, AdamW with weight decay 0.05,
  warmup then cosine decay over the steps that fit the budget.
- bfloat16 on top only where the CPU has bfloat16 units: check
  vitcourse.provenance.cpu_features() for amx_bf16 (or avx512_bf16), then
  keras.config.set_dtype_policy("mixed_bfloat16") before building, and time a
  few steps both ways (results/recipe_sweep_cifar10_cpu-2core_combined.json:
  faster on a Xeon with AMX).""",
)
PRESETS = {
    p.name: p
    for p in (
        KERASIO_VIT, PATCHES2X2_CIFAR10, RESNET_FEATURES_FLATTEN, VIT_SMALL_DS, COURSE_VIT, CONV_STEM_VIT, LAPTOP_VIT
    )
}


def list_presets():
    """The names of the presets, in the order the course introduces them."""
    return list(PRESETS)


def get_preset(name, **overrides):
    """The :class:`Preset` called ``name``, with ``overrides`` of its fields."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(Preset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"Unknown preset field(s) {unknown} for {name!r}. Valid fields: {', '.join(sorted(fields))}."
        )
    preset = PRESETS[name]
    if overrides:
        # an overridden preset no longer reproduces its source's parameter count
        preset = dataclasses.replace(preset, **overrides, parameters=None)
    _validate(preset)
    return preset


def _is_whole(value, minimum=1):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _validate(p):
    def fail(message):
        raise ValueError(f"Preset {p.name!r}: {message}")

    for value, allowed, what in (
        (p.tokenizer, TOKENIZERS, "tokenizer"),
        (p.pooling, POOLINGS, "pooling"),
        (p.augmentation, AUGMENTATIONS, "augmentation"),
        (p.conv_downsample, CONV_DOWNSAMPLES, "conv_downsample"),
        (p.position_embedding, POSITION_EMBEDDINGS, "position_embedding"),
    ):
        if value not in allowed:
            fail(f"{what}={value!r}; choose one of {allowed}.")
    for what in ("patch_size", "projection_dim", "num_heads", "depth"):
        if not _is_whole(getattr(p, what)):
            fail(f"{what}={getattr(p, what)!r}; it must be a whole number >= 1.")
    if not _is_whole(p.num_classes, 2):
        fail(
            f"num_classes={p.num_classes!r}; a classifier needs at least 2 classes. "
            "Pass the number of label names, e.g. num_classes=len(data.label_names)."
        )
    if not isinstance(p.epsilon, (int, float)) or not p.epsilon > 0:
        fail(
            f"epsilon={p.epsilon!r}; layer normalisation divides by sqrt(variance + epsilon), "
            "so epsilon must be > 0 (e.g. 1e-6)."
        )
    for what, example in (("mlp_units", f"({2 * p.projection_dim}, {p.projection_dim})"), ("head_units", "(2048, 1024)")):
        units = getattr(p, what)
        if not isinstance(units, (tuple, list)) or not all(_is_whole(u) for u in units):
            fail(f"{what}={units!r}; it must be a tuple of layer sizes, e.g. {what}={example}.")
    if not p.mlp_units or p.mlp_units[-1] != p.projection_dim:
        fail(
            f"mlp_units={tuple(p.mlp_units)!r}; the last MLP layer must have projection_dim="
            f"{p.projection_dim} units (the residual adds it to the tokens), e.g. "
            f"mlp_units=({2 * p.projection_dim}, {p.projection_dim})."
        )
    shape = p.input_shape
    if not isinstance(shape, (tuple, list)) or len(shape) != 3 or not all(_is_whole(d) for d in shape):
        fail(
            f"input_shape={shape!r}; it must be (height, width, channels), e.g. (32, 32, 3). "
            "For grey images add a channel axis: input_shape=(32, 32, 1), and images x[..., None]."
        )
    if p.pooling == "class_token" and not p.class_token:
        fail("pooling='class_token' needs class_token=True.")
    if p.tokenizer == "features":
        return
    if p.augmentation == "flip_shift" and shape[2] != 3:
        fail(
            f"augmentation='flip_shift' normalises with CIFAR's three per-channel means, so it "
            f"needs RGB images, but input_shape={tuple(shape)} has {shape[2]} channel(s). Repeat "
            "the grey channel (np.repeat(x, 3, axis=-1), input_shape=(H, W, 3)) or use "
            "augmentation='none'."
        )
    if not _is_whole(p.image_size, 0):
        fail(f"image_size={p.image_size!r}; use 0 (no resize) or a size in pixels.")
    if not p.image_size and shape[0] != shape[1]:
        side = min(shape[:2])
        fail(
            f"input_shape={tuple(shape)} is not square, and the presets cut a square image into "
            f"a square grid of patches. Resize the images to {side}x{side}, or set "
            f"image_size={side} to resize them inside the model."
        )
    side, _ = p.grid()
    if p.tokenizer == "conv":
        if not p.conv_filters or not all(_is_whole(f) for f in p.conv_filters):
            fail(f"conv_filters={p.conv_filters!r}; tokenizer='conv' needs one filter count per stage, e.g. conv_filters=(64, 128).")
        if side % 2 ** len(p.conv_filters):
            fail(
                f"image size {side} is not a multiple of {2 ** len(p.conv_filters)}: each of the "
                f"{len(p.conv_filters)} stages of conv_filters halves the grid. Use fewer stages or set image_size."
            )
        return
    if side % p.patch_size:
        fail(
            f"image size {side} is not a multiple of patch_size {p.patch_size}. "
            f"Pick a patch size that divides {side}, or set image_size."
        )


def augmentation_layers(preset, name="augmentation"):
    """The preset's input pipeline as one Keras model (``None`` for ``"none"``).

    It can sit inside the model (as keras.io does) or run in the tf.data
    pipeline: chapter 04 measures both.
    """
    side = preset.image_size
    steps = []
    if preset.augmentation == "kerasio":
        steps = [layers.Normalization(name="normalization")]
        if side:
            steps.append(layers.Resizing(side, side, name="resize"))
        steps += [
            layers.RandomFlip("horizontal", name="flip"),
            layers.RandomRotation(factor=0.02, name="rotation"),
            layers.RandomZoom(height_factor=0.2, width_factor=0.2, name="zoom"),
        ]
    elif preset.augmentation == "flip_shift":
        variance = [s**2 for s in CIFAR_STD]
        steps = [
            layers.Rescaling(1 / 255, name="rescale"),
            layers.Normalization(mean=CIFAR_MEAN, variance=variance, name="normalization"),
        ]
        if side:
            steps.append(layers.Resizing(side, side, name="resize"))
        steps += [
            layers.RandomFlip("horizontal", name="flip"),
            layers.RandomTranslation(0.125, 0.125, fill_mode="constant", name="shift"),
        ]
    elif side:
        steps = [layers.Resizing(side, side, name="resize")]
    return keras.Sequential(steps, name=name) if steps else None


def _tokens(p, x):
    side, n = p.grid()
    if p.tokenizer == "spt":
        x = ShiftedPatchTokenization(p.patch_size, p.projection_dim, p.epsilon, name="spt")(x)
        return PositionEmbedding(n, p.position_embedding, p.class_token, name="positions")(x)
    if p.tokenizer == "features":
        # the ResNet50 Transformer question: Flatten -> Dense -> Reshape to a grid of projection_dim tokens
        rows = p.input_shape[0]
        x = layers.Flatten(name="flatten_features")(x)
        x = layers.Dense(p.features_units, name="features_dense")(x)
        x = layers.Dropout(p.dropout, name="features_dropout")(x)
        cols = p.features_units // (rows * p.projection_dim)
        x = layers.Reshape((rows, cols, p.projection_dim), name="to_grid")(x)
        # that question's model encodes positions along one grid axis only: `rows` of them
        return PatchEncoder(rows, p.projection_dim, p.position_embedding, name="patch_encoder")(x)
    if p.tokenizer == "conv":
        # CCT's tokenizer: each stage is conv 3x3 + ReLU + max-pool (stride 2), or one conv of stride 2;
        # the cells of the last map are the tokens
        for i, filters in enumerate(p.conv_filters):
            if p.conv_downsample == "stride":
                x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"stem_conv_{i}")(x)
            else:
                x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"stem_conv_{i}")(x)
                x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"stem_pool_{i}")(x)
        x = layers.Reshape((n, p.conv_filters[-1]), name="cells_to_tokens")(x)
    elif p.tokenizer == "reshape":
        # the 2x2 patches project's np.reshape(image, (N, P*P*C)): rows of P*P pixels, not squares
        channels = p.input_shape[-1]
        x = layers.Reshape((n, p.patch_size**2 * channels), name="reshape_to_tokens")(x)
    else:
        x = Patches(p.patch_size, name="patches")(x)
    return PatchEncoder(
        n, p.projection_dim, p.position_embedding, p.class_token, name="patch_encoder"
    )(x)


def build_from_preset(preset):
    """Builds the functional Keras model that ``preset`` describes."""
    p = preset
    inputs = keras.Input(shape=p.input_shape, name="images" if p.tokenizer != "features" else "features")
    x = inputs
    augment = augmentation_layers(p)
    if augment is not None:
        x = augment(x)
    x = _tokens(p, x)
    if p.embedding_dropout:
        x = layers.Dropout(p.embedding_dropout, name="embedding_dropout")(x)
    key_dim = p.key_dim or p.projection_dim // p.num_heads
    for i in range(p.depth):
        x = TransformerBlock(
            p.num_heads,
            key_dim,
            list(p.mlp_units),
            dropout=p.dropout,
            attention_dropout=p.attention_dropout,
            locality=p.locality,
            mlp_output_activation=p.mlp_output_activation,
            epsilon=p.epsilon,
            name=f"block_{i}",
        )(x)
    x = layers.LayerNormalization(epsilon=p.epsilon, name="final_norm")(x)
    if p.pooling == "flatten":
        x = layers.Flatten(name="flatten")(x)
    elif p.pooling == "class_token":
        x = x[:, 0]
    else:
        x = layers.GlobalAveragePooling1D(name="average_tokens")(x)
    if p.representation_dropout:
        x = layers.Dropout(p.representation_dropout, name="representation_dropout")(x)
    for i, units in enumerate(p.head_units):
        x = layers.Dense(units, activation="gelu", name=f"head_{i}")(x)
        x = layers.Dropout(p.head_dropout, name=f"head_dropout_{i}")(x)
    # float32 outputs even under mixed precision: softmax and the metrics need the range
    outputs = layers.Dense(
        p.num_classes, activation=p.output_activation, dtype="float32", name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=p.name)


def build_model(name, **overrides):
    """Builds preset ``name`` as a ``keras.Model``; keyword arguments override its fields.

    Example:
        >>> model = build_model("course_vit", num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    return build_from_preset(get_preset(name, **overrides))


def prepare_model(model, x_train, max_images=10_000):
    """Adapts the model's unadapted ``Normalization`` layers on training images.

    keras.io's recipe normalises with statistics adapted on the training set,
    which must happen before training (they are not learned).
    """
    import numpy as np

    for layer in walk_layers(model):
        if isinstance(layer, layers.Normalization) and layer.input_mean is None:
            layer.adapt(np.asarray(x_train[:max_images], dtype="float32"))
    return model


def walk_layers(layer):
    """``layer`` and every layer inside it, nested models and ``Sequential`` blocks included."""
    yield layer
    for sub in getattr(layer, "layers", []):
        yield from walk_layers(sub)


def describe(name):
    """A preset's provenance and rationale, as text."""
    p = get_preset(name)
    lines = [f"{p.name}: {p.source}", f"  dataset: {p.dataset}", f"  expected: {p.expected_accuracy}"]
    lines += [f"  runtime: {p.runtime}", f"  reproduce: {p.command}"]
    if p.parameters:
        lines.append(f"  parameters: {p.parameters:,}")
    if p.notes:
        lines.append(p.notes)
    return "\n".join(lines)
