"""The layers of a Vision Transformer, each a small, complete Keras citizen.

Every layer here takes ``**kwargs``, stores one attribute per constructor
argument, returns exactly those arguments from ``get_config`` and is
registered, so a ``.keras`` file that uses it loads back in safe mode with no
``custom_objects``. Only ``keras.ops`` and public Keras APIs are used, so the
same code runs on the TensorFlow, JAX and PyTorch backends.
"""

import math

import keras
import numpy as np
from keras import layers, ops

register = keras.saving.register_keras_serializable(package="vitcourse")

POSITION_EMBEDDINGS = ("learned", "sincos", "fixed_random", "none")


def _check_rank(name, input_shape, rank, hint):
    if len(input_shape) != rank:
        raise ValueError(
            f"{name} expects inputs of rank {rank} {hint}, got shape {tuple(input_shape)}."
        )


def _check_positive_int(name, value, arg):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}.")


def _check_epsilon(name, epsilon):
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(
            f"{name}: epsilon must be > 0 (layer normalisation divides by sqrt(variance + "
            f"epsilon)), got {epsilon!r}. Use e.g. epsilon=1e-6."
        )


@register
class Patches(layers.Layer):
    """Cuts a batch of images into non-overlapping square patches, each flattened.

    Args:
        patch_size: side of a square patch, in pixels. It must divide the
            image height and width.

    Example:
        >>> Patches(6)(np.zeros((2, 72, 72, 3))).shape   # 12 x 12 = 144 patches
        (2, 144, 108)

    Reference: Dosovitskiy et al., https://arxiv.org/abs/2010.11929.
    Introduced in chapter 01.
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("Patches", patch_size, "patch_size")
        self.patch_size = patch_size

    def _grid(self, input_shape):
        _check_rank(
            "Patches", input_shape, 4,
            "(batch, height, width, channels); for one image use images[None]",
        )
        grid = []
        for axis, size in (("height", input_shape[1]), ("width", input_shape[2])):
            if size is not None and size % self.patch_size:
                fits = max(self.patch_size, size // self.patch_size * self.patch_size)
                raise ValueError(
                    f"Patches: image {axis} {size} is not a multiple of patch_size "
                    f"{self.patch_size}. Resize the images (e.g. to {fits}) or choose a "
                    f"patch_size that divides {size}."
                )
            grid.append(None if size is None else size // self.patch_size)
        return grid

    def build(self, input_shape):
        self._grid(input_shape)

    def call(self, images):
        # Cast first: integer images would make every later op integer.
        images = ops.cast(images, self.compute_dtype)
        p = self.patch_size
        _, height, width, channels = ops.shape(images)
        rows, cols = height // p, width // p
        # (B, H, W, C) -> (B, rows, P, cols, P, C) -> (B, rows, cols, P, P, C)
        patches = ops.reshape(images, (-1, rows, p, cols, p, channels))
        patches = ops.transpose(patches, (0, 1, 3, 2, 4, 5))
        # -> (B, N, P*P*C), patches in reading order, pixels row-major inside a patch
        return ops.reshape(patches, (-1, rows * cols, p * p * channels))

    def compute_output_shape(self, input_shape):
        rows, cols = self._grid(input_shape)
        n = None if rows is None or cols is None else rows * cols
        c = input_shape[3]
        return (input_shape[0], n, None if c is None else self.patch_size**2 * c)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


def sincos_table(num_positions, dim):
    """The fixed sine-cosine position table of "Attention Is All You Need".

    Row ``i`` holds ``sin(i / 10000^(2k/dim))`` in even columns and the cosine
    in odd ones: nearby positions get similar rows, and nothing is learned.
    """
    positions = np.arange(num_positions)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    table = np.zeros((num_positions, dim), dtype="float32")
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)[:, : dim // 2]
    return table


@register
class PositionEmbedding(layers.Layer):
    """Adds a position embedding to a sequence of tokens, optionally after a class token.

    Args:
        num_positions: number of tokens (patches) the table covers. The tokens
            are the second-to-last axis of the input.
        kind: ``"learned"`` (a trained table, as in ViT and keras.io),
            ``"sincos"`` (fixed sine-cosine waves), ``"fixed_random"`` (a random
            table that is never trained, which is what an ``Embedding`` called on
            a constant outside the model gives: the 2x2 patches project's model) or ``"none"``.
        class_token: prepend a learned ``[CLS]`` token (with its own position),
            whose final state can represent the whole image.
        seed: seed of the ``"fixed_random"`` table.

    Example:
        >>> PositionEmbedding(144)(np.zeros((2, 144, 64))).shape
        (2, 144, 64)
        >>> PositionEmbedding(144, class_token=True)(np.zeros((2, 144, 64))).shape
        (2, 145, 64)

    Reference: https://arxiv.org/abs/2010.11929 (section 3.1). Introduced in chapter 02.
    """

    def __init__(self, num_positions, kind="learned", class_token=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("PositionEmbedding", num_positions, "num_positions")
        if kind not in POSITION_EMBEDDINGS:
            raise ValueError(
                f"PositionEmbedding: unknown kind {kind!r}; choose one of {POSITION_EMBEDDINGS}."
            )
        self.num_positions = num_positions
        self.kind = kind
        self.class_token = class_token
        self.seed = seed

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "PositionEmbedding expects (batch, tokens, dim) inputs, "
                f"got shape {tuple(input_shape)}."
            )
        if input_shape[-2] is not None and input_shape[-2] != self.num_positions:
            raise ValueError(
                f"PositionEmbedding was made for {self.num_positions} tokens but the input "
                f"has {input_shape[-2]} (shape {tuple(input_shape)}). Set num_positions to "
                "the number of patches."
            )
        if self.class_token and len(input_shape) != 3:
            raise ValueError("A class token needs (batch, tokens, dim) inputs.")
        dim = input_shape[-1]
        rows = self.num_positions + int(self.class_token)
        if self.class_token:
            self.cls = self.add_weight(shape=(1, 1, dim), initializer="zeros", name="cls")
        if self.kind == "learned":
            # keras.io's Embedding initialiser, so the reproduced models match.
            init = keras.initializers.RandomUniform(-0.05, 0.05)
            self.table = self.add_weight(shape=(rows, dim), initializer=init, name="table")
        elif self.kind == "sincos":
            self.table = sincos_table(rows, dim)
        elif self.kind == "fixed_random":
            rng = np.random.default_rng(self.seed)
            self.table = rng.uniform(-0.05, 0.05, (rows, dim)).astype("float32")

    def call(self, tokens):
        if self.class_token:
            cls = ops.cast(self.cls, tokens.dtype)
            cls = ops.broadcast_to(cls, (ops.shape(tokens)[0], 1, ops.shape(tokens)[-1]))
            tokens = ops.concatenate([cls, tokens], axis=1)  # (B, 1+N, D)
        if self.kind == "none":
            return tokens
        # (rows, D) broadcasts over the batch (and, for 4-D inputs, the other grid axis)
        return tokens + ops.cast(self.table, tokens.dtype)

    def compute_output_shape(self, input_shape):
        if not self.class_token:
            return tuple(input_shape)
        n = input_shape[1]
        return (input_shape[0], None if n is None else n + 1, input_shape[2])

    def get_config(self):
        return {
            **super().get_config(),
            "num_positions": self.num_positions,
            "kind": self.kind,
            "class_token": self.class_token,
            "seed": self.seed,
        }


@register
class PatchEncoder(layers.Layer):
    """Linear projection of flattened patches plus a position embedding.

    Args:
        num_patches: number of patches per image.
        projection_dim: size of each token after the projection.
        position_embedding: kind of :class:`PositionEmbedding` (``"learned"``,
            ``"sincos"``, ``"fixed_random"`` or ``"none"``).
        class_token: prepend a learned class token.
        seed: seed of a ``"fixed_random"`` table.

    Example:
        >>> PatchEncoder(144, 64)(np.zeros((2, 144, 108))).shape
        (2, 144, 64)

    Reference: https://arxiv.org/abs/2010.11929 (equation 1). Introduced in chapter 02.
    """

    def __init__(
        self,
        num_patches,
        projection_dim,
        position_embedding="learned",
        class_token=False,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("PatchEncoder", projection_dim, "projection_dim")
        self.num_patches = num_patches
        self.projection_dim = projection_dim
        self.position_embedding = position_embedding
        self.class_token = class_token
        self.seed = seed
        self.projection = layers.Dense(projection_dim, dtype=self.dtype_policy, name="projection")
        self.positions = PositionEmbedding(
            num_patches,
            kind=position_embedding,
            class_token=class_token,
            seed=seed,
            dtype=self.dtype_policy,
            name="positions",
        )

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.positions.build(self.projection.compute_output_shape(input_shape))

    def call(self, patches):
        return self.positions(self.projection(patches))

    def compute_output_shape(self, input_shape):
        return self.positions.compute_output_shape(
            self.projection.compute_output_shape(input_shape)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_patches": self.num_patches,
            "projection_dim": self.projection_dim,
            "position_embedding": self.position_embedding,
            "class_token": self.class_token,
            "seed": self.seed,
        }


@register
class ShiftedPatchTokenization(layers.Layer):
    """Shifted Patch Tokenization (SPT): patches that see their neighbours too.

    The image is concatenated, along channels, with four copies shifted
    diagonally by half a patch (left-up, left-down, right-up, right-down,
    zero-filled), so each patch also holds the pixels around it. The patches
    are then flattened, layer-normalised and projected.

    Args:
        patch_size: side of a square patch; it must divide the image size.
        projection_dim: size of each output token.
        epsilon: layer-norm epsilon.

    Example:
        >>> ShiftedPatchTokenization(6, 64)(np.zeros((2, 72, 72, 3))).shape
        (2, 144, 64)

    Reference: Lee, Lee and Song, "Vision Transformer for Small-Size Datasets",
    https://arxiv.org/abs/2112.13492. Introduced in the small-datasets chapter.
    """

    SHIFTS = ((-1, -1), (1, -1), (-1, 1), (1, 1))  # (down, right) in half patches

    def __init__(self, patch_size, projection_dim, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("ShiftedPatchTokenization", patch_size, "patch_size")
        _check_positive_int("ShiftedPatchTokenization", projection_dim, "projection_dim")
        _check_epsilon("ShiftedPatchTokenization", epsilon)
        self.patch_size = patch_size
        self.projection_dim = projection_dim
        self.epsilon = epsilon
        self.patches = Patches(patch_size, dtype=self.dtype_policy, name="patches")
        self.norm = layers.LayerNormalization(epsilon=epsilon, dtype=self.dtype_policy, name="norm")
        self.projection = layers.Dense(projection_dim, dtype=self.dtype_policy, name="projection")

    def _shifted_shape(self, input_shape):
        _check_rank("ShiftedPatchTokenization", input_shape, 4, "(batch, height, width, channels)")
        return (*input_shape[:3], None if input_shape[3] is None else 5 * input_shape[3])

    def build(self, input_shape):
        shifted = self._shifted_shape(input_shape)
        patch_shape = self.patches.compute_output_shape(shifted)
        self.norm.build(patch_shape)
        self.projection.build(patch_shape)

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        half = self.patch_size // 2
        height, width = images.shape[1], images.shape[2]
        padded = ops.pad(images, ((0, 0), (half, half), (half, half), (0, 0)))
        views = [images]
        for down, right in self.SHIFTS:
            # shifted[i, j] = image[i - down*half, j - right*half], zeros where that is outside
            top, left = half - down * half, half - right * half
            views.append(padded[:, top : top + height, left : left + width, :])
        tokens = self.patches(ops.concatenate(views, axis=-1))  # (B, N, P*P*5C)
        return self.projection(self.norm(tokens))

    def compute_output_shape(self, input_shape):
        n = self.patches.compute_output_shape(self._shifted_shape(input_shape))[1]
        return (input_shape[0], n, self.projection_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "projection_dim": self.projection_dim,
            "epsilon": self.epsilon,
        }


@register
class LocalitySelfAttention(layers.Layer):
    """Multi-head self-attention with Locality Self-Attention (LSA).

    Two changes to plain self-attention make the attention sharper on small
    datasets: each token is not allowed to attend to itself (the diagonal of
    the score matrix is masked), and the softmax temperature is learned
    (it starts at ``sqrt(key_dim)``, the usual fixed scale). With
    ``diagonal_mask=False`` and a fixed temperature it is ordinary attention.

    Written with public ``keras.ops`` only: keras.io's version overrides a
    private method of ``MultiHeadAttention`` and crashes on current Keras.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's queries and keys (and values).
        dropout: dropout on the attention weights.
        diagonal_mask: forbid each token from attending to itself.
        learn_temperature: learn the softmax temperature.

    Example:
        >>> LocalitySelfAttention(4, 16)(np.zeros((2, 10, 64))).shape
        (2, 10, 64)

    Reference: https://arxiv.org/abs/2112.13492 (section 3.2).
    Introduced in the small-datasets chapter.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        dropout=0.0,
        diagonal_mask=True,
        learn_temperature=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("LocalitySelfAttention", num_heads, "num_heads")
        _check_positive_int("LocalitySelfAttention", key_dim, "key_dim")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.diagonal_mask = diagonal_mask
        self.learn_temperature = learn_temperature
        inner = num_heads * key_dim
        dense = dict(dtype=self.dtype_policy)
        self.query = layers.Dense(inner, name="query", **dense)
        self.key = layers.Dense(inner, name="key", **dense)
        self.value = layers.Dense(inner, name="value", **dense)
        self.attention_dropout = layers.Dropout(dropout, **dense)
        self.output_dense = None  # built once the token size is known

    def build(self, input_shape):
        _check_rank("LocalitySelfAttention", input_shape, 3, "(batch, tokens, dim)")
        for dense in (self.query, self.key, self.value):
            dense.build(input_shape)
        self.output_dense = layers.Dense(input_shape[-1], name="output", dtype=self.dtype_policy)
        self.output_dense.build((*input_shape[:-1], self.num_heads * self.key_dim))
        self.temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.sqrt(self.key_dim)),
            trainable=self.learn_temperature,
            name="temperature",
        )

    def _heads(self, x):
        # (B, N, h*k) -> (B, h, N, k)
        # the token count written out, not -1: older Keras (3.8-3.10) on TensorFlow loses it otherwise
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.num_heads, self.key_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, tokens, training=None, return_attention_scores=False):
        q, k, v = (self._heads(f(tokens)) for f in (self.query, self.key, self.value))
        scores = ops.einsum("bhqd,bhkd->bhqk", q, k) / ops.cast(self.temperature, q.dtype)
        if self.diagonal_mask:
            n = ops.shape(scores)[-1]
            # a large negative score, not -inf, so a masked row never becomes NaN
            scores = ops.where(ops.eye(n, dtype="bool"), ops.cast(-1e4, scores.dtype), scores)
        weights = ops.softmax(scores, axis=-1)  # (B, h, N, N)
        attended = ops.einsum("bhqk,bhkd->bhqd", self.attention_dropout(weights, training=training), v)
        attended = ops.transpose(attended, (0, 2, 1, 3))  # (B, N, h, k)
        attended = ops.reshape(attended, (ops.shape(tokens)[0], ops.shape(tokens)[1], self.num_heads * self.key_dim))
        output = self.output_dense(attended)
        return (output, weights) if return_attention_scores else output

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "diagonal_mask": self.diagonal_mask,
            "learn_temperature": self.learn_temperature,
        }


@register
class TransformerBlock(layers.Layer):
    """A pre-norm transformer encoder block.

    ``x = x + Attention(LayerNorm(x))``, then ``x = x + MLP(LayerNorm(x))``,
    the MLP being GELU dense layers with dropout.

    Args:
        num_heads: attention heads.
        key_dim: size of each head's queries and keys. keras.io's ViT uses
            ``key_dim = projection_dim``, so its heads together are 4x wider
            than the tokens; the original ViT uses ``projection_dim // num_heads``.
        mlp_units: sizes of the MLP's dense layers; the last must equal the
            token size (the residual adds them), e.g. ``[128, 64]``.
        dropout: dropout after each MLP dense layer.
        attention_dropout: dropout on the attention weights.
        locality: use Locality Self-Attention instead of plain attention.
        mlp_output_activation: apply GELU after the last MLP layer too, as the
            keras.io examples do (the original ViT does not).
        epsilon: layer-norm epsilon.

    Example:
        >>> TransformerBlock(4, 16, [128, 64])(np.zeros((2, 144, 64))).shape
        (2, 144, 64)

    Reference: https://arxiv.org/abs/2010.11929 (equations 2-3).
    Introduced in chapter 03.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        mlp_units,
        dropout=0.1,
        attention_dropout=0.0,
        locality=False,
        mlp_output_activation=False,
        epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("TransformerBlock", num_heads, "num_heads")
        _check_positive_int("TransformerBlock", key_dim, "key_dim")
        _check_epsilon("TransformerBlock", epsilon)
        if not isinstance(mlp_units, (list, tuple)) or not mlp_units:
            raise ValueError(
                f"TransformerBlock: mlp_units must be a list of layer sizes ending at the token "
                f"size, e.g. mlp_units=[128, 64] for 64-wide tokens; got {mlp_units!r}."
            )
        mlp_units = list(mlp_units)
        for units in mlp_units:
            _check_positive_int("TransformerBlock", units, "each of mlp_units")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.mlp_units = mlp_units
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.locality = locality
        self.mlp_output_activation = mlp_output_activation
        self.epsilon = epsilon
        policy = dict(dtype=self.dtype_policy)
        self.norm1 = layers.LayerNormalization(epsilon=epsilon, name="norm1", **policy)
        if locality:
            self.attention = LocalitySelfAttention(
                num_heads, key_dim, dropout=attention_dropout, name="attention", **policy
            )
        else:
            self.attention = layers.MultiHeadAttention(
                num_heads, key_dim, dropout=attention_dropout, name="attention", **policy
            )
        self.norm2 = layers.LayerNormalization(epsilon=epsilon, name="norm2", **policy)
        self.mlp = []
        for i, units in enumerate(mlp_units):
            last = i == len(mlp_units) - 1
            activation = "gelu" if (not last or mlp_output_activation) else None
            self.mlp.append(layers.Dense(units, activation=activation, name=f"mlp_{i}", **policy))
            self.mlp.append(layers.Dropout(dropout, **policy))

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"TransformerBlock expects (batch, tokens, dim) inputs, got shape {tuple(input_shape)}."
            )
        if input_shape[-1] is not None and self.mlp_units[-1] != input_shape[-1]:
            raise ValueError(
                f"TransformerBlock: the last MLP layer has {self.mlp_units[-1]} units but the "
                f"tokens have size {input_shape[-1]}; they must be equal for the residual "
                f"connection. Use mlp_units=[..., {input_shape[-1]}]."
            )
        self.norm1.build(input_shape)
        if self.locality:
            self.attention.build(input_shape)
        else:
            self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        shape = tuple(input_shape)
        for layer in self.mlp:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, tokens, training=None, return_attention_scores=False):
        x = self.norm1(tokens)
        # plain attention is self-attention: queries, keys and values all come from x
        args = (x,) if self.locality else (x, x)
        # Only ask for the scores when wanted: returning them rules out fused attention.
        attended = self.attention(
            *args, training=training, return_attention_scores=return_attention_scores
        )
        if return_attention_scores:
            attended, scores = attended
        tokens = tokens + attended
        x = self.norm2(tokens)
        for layer in self.mlp:
            x = layer(x, training=training)
        tokens = tokens + x
        return (tokens, scores) if return_attention_scores else tokens

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "mlp_units": self.mlp_units,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "locality": self.locality,
            "mlp_output_activation": self.mlp_output_activation,
            "epsilon": self.epsilon,
        }
