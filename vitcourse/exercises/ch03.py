"""Checkers for the exercises of chapter 03, "The transformer encoder block".

Each checker raises ``AssertionError`` with a hint when the answer is wrong,
and calls :func:`vitcourse.exercises.passed` when it is right. A student stub
(``None``, or a function that raises ``NotImplementedError``) gets "not
attempted yet" (:func:`vitcourse.exercises.checker`).
"""

import keras
import numpy as np

from vitcourse.exercises import checker, expect, passed

# (dim, num_heads, key_dim, mlp_units)
BLOCK_CASES = (
    (64, 4, 64, (128, 64)),  # keras.io's ViT: heads 4x wider than the tokens
    (64, 4, 16, (128, 64)),  # the same block with key_dim = dim / heads
    (128, 4, 128, (256, 128)),  # the 2x2 patches project
    (192, 3, 64, (768, 192)),  # ViT-Ti's sizes
    (48, 6, 8, (96, 64, 48)),  # a three-layer MLP
)


def attention_params(dim, num_heads, key_dim):
    """Parameters of ``MultiHeadAttention(num_heads, key_dim)`` on ``dim``-wide tokens."""
    inner = num_heads * key_dim  # all heads side by side
    qkv = 3 * (dim * inner + inner)  # query, key and value projections, with biases
    output = inner * dim + dim  # back to the token size
    return qkv + output


def mlp_params(dim, mlp_units):
    """Parameters of the block's MLP: dense layers ``dim -> mlp_units[0] -> ... -> mlp_units[-1]``."""
    total, width = 0, dim
    for units in mlp_units:
        total += width * units + units
        width = units
    return total


def block_params(dim, num_heads, key_dim, mlp_units):
    """Parameters of a ``TransformerBlock``: two layer norms, attention and the MLP."""
    return 2 * (2 * dim) + attention_params(dim, num_heads, key_dim) + mlp_params(dim, mlp_units)


def _built_block_params(dim, num_heads, key_dim, mlp_units):
    from vitcourse.layers import TransformerBlock

    block = TransformerBlock(num_heads, key_dim, list(mlp_units))
    block.build((None, 5, dim))
    return block.count_params()


@checker("Exercise 3.1")
def check_block_params(count_fn):
    """Exercise 3.1: ``count_fn(dim, num_heads, key_dim, mlp_units)`` gives a TransformerBlock's parameters."""
    expect(callable(count_fn), "pass the function itself, e.g. check_block_params(my_count).")
    for dim, heads, key_dim, mlp in BLOCK_CASES:
        want = _built_block_params(dim, heads, key_dim, mlp)
        got = count_fn(dim, heads, key_dim, list(mlp))
        if got == want:
            continue
        hint = (
            f"for dim={dim}, num_heads={heads}, key_dim={key_dim}, mlp_units={list(mlp)} your "
            f"function gives {got}, the built block has {want}."
        )
        if got == want - 4 * dim:
            hint += " The two layer norms have a scale and an offset per feature: 2 x 2 x dim."
        elif got in (
            want - attention_params(dim, heads, key_dim) + attention_params(dim, 1, key_dim),
            block_params(dim, heads, key_dim // heads, mlp),
        ):
            hint += (
                " key_dim is the width of ONE head: each of the num_heads heads has its own key_dim-wide "
                "queries, keys and values, so together they are num_heads x key_dim wide."
            )
        elif got == want - (3 * heads * key_dim + dim) or got == want - sum(mlp):
            hint += " Some biases are missing: every dense projection has one bias per output unit."
        else:
            hint += (
                " Count: 2 layer norms (2 x dim each); query, key and value (dim x heads*key_dim + "
                "heads*key_dim each); the output projection (heads*key_dim x dim + dim); each MLP layer "
                "(inputs x units + units)."
            )
        raise AssertionError(f"Not yet: {hint}")
    return passed("Exercise 3.1 (TransformerBlock parameters)")


RESNET_FIRST_DENSE = 3 * 3 * 2048 * 4608 + 4608  # 84,939,264


@checker("Exercise 3.2")
def check_resnet_first_dense(params):
    """Exercise 3.2: parameters of the ResNet50 Transformer question's Dense after flattening the (3, 3, 2048) features."""
    expect(isinstance(params, (int, np.integer)), f"give a whole number of parameters, got {params!r}.")
    if params == RESNET_FIRST_DENSE:
        return passed("Exercise 3.2 (the ResNet50 Transformer question's first Dense)")
    if params == 3 * 3 * 2048 * 4608:
        raise AssertionError("Not yet: that is the kernel; add one bias per output unit (4,608).")
    if params in (2048 * 4608 + 4608, 2048 * 512 + 512):
        raise AssertionError(
            "Not yet: Flatten turns (3, 3, 2048) into one vector of 3 x 3 x 2048 = 18,432 numbers, "
            "and the Dense layer connects every one of them to each of its 4,608 units."
        )
    raise AssertionError("Not yet: inputs (3 x 3 x 2048 after Flatten) x units (4,608) + units.")


VIT_S = dict(dim=384, num_heads=6, mlp_units=(1536, 384))  # ViT-S/16's block sizes


@checker("Exercise 3.3")
def check_key_dim(key_dim, params):
    """Exercise 3.3: ViT-S's key_dim (6 heads on 384-wide tokens, heads x key_dim = dim) and its block's parameters."""
    dim, heads, mlp = VIT_S["dim"], VIT_S["num_heads"], VIT_S["mlp_units"]
    expect(isinstance(key_dim, (int, np.integer)), f"key_dim must be a whole number, got {key_dim!r}.")
    if key_dim == dim:
        raise AssertionError(
            f"Not yet: key_dim={dim} is keras.io's choice (key_dim = projection_dim); then {heads} heads x "
            f"{dim} = {heads * dim} is {heads} times the token size."
        )
    expect(
        key_dim * heads == dim,
        f"{heads} heads x key_dim {key_dim} = {heads * key_dim}, but it should equal the token size {dim}.",
    )
    expect(isinstance(params, (int, np.integer)), f"give the block's parameters as a whole number, got {params!r}.")
    if params == block_params(dim, heads, dim, mlp):
        raise AssertionError(f"Not yet: key_dim={key_dim} is right, but that count is for key_dim={dim}.")
    expect(
        params == block_params(dim, heads, key_dim, mlp),
        f"key_dim={key_dim} is right; now count one block with it: 2 layer norms, attention (query, key, "
        f"value and output projections, with biases) and the MLP {dim} -> {mlp[0]} -> {mlp[1]}.",
    )
    return passed("Exercise 3.3 (key_dim = dim / heads)")


FEATURE_TOKENS_PARAMS = 2048 * 512 + 512 + 9 * 512  # 1,053,696


@checker("Exercise 3.4")
def check_feature_tokens_params(params):
    """Exercise 3.4: PatchEncoder(9, 512) on the 9 ResNet feature tokens of 2048 numbers."""
    expect(isinstance(params, (int, np.integer)), f"give a whole number of parameters, got {params!r}.")
    if params == FEATURE_TOKENS_PARAMS:
        return passed("Exercise 3.4 (tokens from ResNet features)")
    if params == 9 * (2048 * 512 + 512) + 9 * 512:
        raise AssertionError(
            "Not yet: the Dense layer is shared by the 9 tokens (it acts on the last axis), so it is counted once."
        )
    if params == 2048 * 512 + 512:
        raise AssertionError("Not yet: that is the projection; the learned position table adds 9 rows of 512.")
    if params == 2048 * 512 + 512 + 3 * 512:
        raise AssertionError("Not yet: with 9 tokens the table needs 9 positions, not the 3 of the ResNet50 Transformer question's model.")
    raise AssertionError(
        "Not yet: count the projection Dense(512) on 2048-long tokens (kernel + bias) and a 9 x 512 position table."
    )


# Exercise 3.6: keras.io's ViT with standard heads (key_dim = projection_dim / num_heads).
KERASIO = dict(dim=64, num_heads=4, key_dim=64, depth=8, tokens=144)
STANDARD_KEY_DIM = KERASIO["dim"] // KERASIO["num_heads"]  # 16
STANDARD_HEADS_SAVING = KERASIO["depth"] * (
    attention_params(KERASIO["dim"], KERASIO["num_heads"], KERASIO["key_dim"])
    - attention_params(KERASIO["dim"], KERASIO["num_heads"], STANDARD_KEY_DIM)
)  # 8 x (66,368 - 16,640) = 397,824


def _attention_sizes(block):
    """(token width D, heads, key_dim) of a TransformerBlock, read from its query kernel (D, heads, key_dim)."""
    return tuple(int(n) for n in block.attention.query_dense.kernel.shape)


@checker("Exercise 3.6")
def check_standard_heads(model, saved_params):
    """Exercise 3.6: keras.io's ViT with ``key_dim = 64 / 4``, and how many parameters that saves.

    The checker measures ``model``: its transformer blocks (how many, how many
    tokens enter them, and the shape of each attention's query kernel), its
    output shape, and its parameter count against keras.io's model built afresh.
    """
    from vitcourse.layers import TransformerBlock
    from vitcourse.presets import build_model

    expect(isinstance(model, keras.Model), f"set standard_heads_vit to the keras.Model, got {type(model).__name__}.")
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    expect(
        len(blocks) == KERASIO["depth"],
        f"the model has {len(blocks)} transformer blocks; keras.io's has {KERASIO['depth']}: "
        "change only key_dim (build_model('kerasio_vit', key_dim=...)).",
    )
    expect(
        tuple(blocks[0].input.shape)[1:] == (KERASIO["tokens"], KERASIO["dim"]),
        f"the blocks receive tokens of shape {tuple(blocks[0].input.shape)[1:]}; keras.io's receive "
        f"({KERASIO['tokens']}, {KERASIO['dim']}): change only key_dim.",
    )
    expect(tuple(model.output_shape) == (None, 100), f"the model outputs {model.output_shape}, keras.io's (None, 100).")
    for block in blocks:
        dim, heads, key_dim = _attention_sizes(block)
        expect(
            heads == KERASIO["num_heads"],
            f"{block.name} has {heads} heads; keep keras.io's {KERASIO['num_heads']} and change only key_dim.",
        )
        if key_dim == KERASIO["key_dim"]:
            raise AssertionError(
                f"Not yet: {block.name} has key_dim={key_dim}, keras.io's key_dim = projection_dim: "
                f"{heads} heads x {key_dim} = {heads * key_dim}, {heads * key_dim // dim} times the token width {dim}."
            )
        expect(
            heads * key_dim == dim,
            f"{block.name}: {heads} heads x key_dim {key_dim} = {heads * key_dim}, but all heads together "
            f"should be as wide as a token, {dim}: key_dim = {dim} / {heads}.",
        )
    reference = build_model("kerasio_vit").count_params()
    measured_saving = reference - model.count_params()
    expect(
        measured_saving == STANDARD_HEADS_SAVING,
        f"keras.io's model has {reference:,} parameters and yours {model.count_params():,}: "
        f"{measured_saving:,} fewer, where key_dim alone accounts for {STANDARD_HEADS_SAVING:,}. "
        "Something else changed: build it with build_model('kerasio_vit', key_dim=...) and no other change.",
    )
    expect(
        isinstance(saved_params, (int, np.integer)) and not isinstance(saved_params, bool),
        f"give the saving as a whole number of parameters, got {saved_params!r}.",
    )
    if saved_params == -STANDARD_HEADS_SAVING:
        raise AssertionError("Not yet: the other way round: keras.io's count minus yours, a positive number.")
    if saved_params == STANDARD_HEADS_SAVING // KERASIO["depth"]:
        raise AssertionError(
            f"Not yet: {saved_params:,} is the saving in one block; the model has {KERASIO['depth']} blocks."
        )
    expect(
        saved_params == STANDARD_HEADS_SAVING,
        f"the model is right; saved_params should be keras.io's count_params() minus your model's, got {saved_params:,}.",
    )
    return passed("Exercise 3.6 (standard heads for keras.io's ViT)")
