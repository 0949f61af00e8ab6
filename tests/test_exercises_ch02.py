"""The checkers of chapter 02 accept right answers and reject wrong ones with a hint."""

import numpy as np
import pytest

from vitcourse.exercises import ch02
from vitcourse.layers import sincos_table


def right_patch_encoder_count(patch_dim, num_patches, projection_dim, position_embedding, class_token):
    params = patch_dim * projection_dim + projection_dim
    if class_token:
        params += projection_dim
    if position_embedding == "learned":
        params += (num_patches + int(class_token)) * projection_dim
    return params


def test_patch_encoder_params_right():
    assert ch02.check_patch_encoder_params(right_patch_encoder_count)
    assert ch02.check_patch_encoder_params(ch02.patch_encoder_params)


def test_patch_encoder_params_wrong():
    def no_bias(patch_dim, n, d, kind, cls):
        return right_patch_encoder_count(patch_dim, n, d, kind, cls) - d

    def always_table(patch_dim, n, d, kind, cls):
        return patch_dim * d + d + n * d

    with pytest.raises(AssertionError, match="bias"):
        ch02.check_patch_encoder_params(no_bias)
    with pytest.raises(AssertionError, match="not trained"):
        ch02.check_patch_encoder_params(always_table)
    with pytest.raises(AssertionError, match="function itself"):
        ch02.check_patch_encoder_params(16192)


def my_sincos(n, dim):
    table = np.zeros((n, dim))
    for pos in range(n):
        for k in range(dim // 2):
            angle = pos / 10000 ** (2 * k / dim)
            table[pos, 2 * k] = np.sin(angle)
            table[pos, 2 * k + 1] = np.cos(angle)
    return table


def test_sincos_right():
    assert ch02.check_sincos_table(my_sincos)
    assert ch02.check_sincos_table(sincos_table)


def test_sincos_wrong():
    with pytest.raises(AssertionError, match="even columns"):
        ch02.check_sincos_table(lambda n, d: my_sincos(n, d)[:, [i ^ 1 for i in range(d)]])
    with pytest.raises(AssertionError, match="rate"):
        ch02.check_sincos_table(lambda n, d: my_sincos(n, 2 * d)[:, :d])
    with pytest.raises(AssertionError, match="shape"):
        ch02.check_sincos_table(lambda n, d: my_sincos(n, d).T)


def test_seed004_flatten_dense():
    assert ch02.check_seed004_flatten_dense(67_110_912)
    assert ch02.check_seed004_flatten_dense(np.int64(67_110_912))
    for wrong, hint in ((67_108_864, "bias"), (32_768, "flattened"), (264_192, "256 tokens"), (5, "kernel")):
        with pytest.raises(AssertionError, match=hint):
            ch02.check_seed004_flatten_dense(wrong)


def test_cheapest_pooling():
    assert ch02.check_cheapest_pooling("gap", 819_300)
    with pytest.raises(AssertionError, match="8,192"):
        ch02.check_cheapest_pooling("flatten", 819_300)
    with pytest.raises(AssertionError, match="position"):
        ch02.check_cheapest_pooling("class_token", 819_300)
    with pytest.raises(AssertionError, match="biases"):
        ch02.check_cheapest_pooling("gap", 819_200)
    with pytest.raises(AssertionError, match="one of"):
        ch02.check_cheapest_pooling("max", 819_300)
