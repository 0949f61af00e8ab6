"""The checkers of chapter 03 accept right answers and reject wrong ones with a hint."""

import numpy as np
import pytest

from vitcourse.exercises import ch03


def right_block_count(dim, num_heads, key_dim, mlp_units):
    inner = num_heads * key_dim
    attention = 3 * (dim * inner + inner) + inner * dim + dim
    mlp, width = 0, dim
    for units in mlp_units:
        mlp += width * units + units
        width = units
    return 4 * dim + attention + mlp


def test_block_params_right():
    assert ch03.check_block_params(right_block_count)
    assert ch03.check_block_params(ch03.block_params)


def test_block_params_wrong():
    def no_norms(dim, h, k, mlp):
        return right_block_count(dim, h, k, mlp) - 4 * dim

    def key_dim_is_total(dim, h, k, mlp):
        return right_block_count(dim, h, k // h, mlp)

    def one_head(dim, h, k, mlp):
        return right_block_count(dim, 1, k, mlp)

    with pytest.raises(AssertionError, match="layer norms"):
        ch03.check_block_params(no_norms)
    with pytest.raises(AssertionError, match="ONE head"):
        ch03.check_block_params(key_dim_is_total)
    with pytest.raises(AssertionError, match="ONE head"):
        ch03.check_block_params(one_head)
    with pytest.raises(AssertionError, match="function itself"):
        ch03.check_block_params(83_200)


def test_reference_counts_match_the_seeds():
    # the counts printed in the seeds' model summaries
    assert ch03.attention_params(512, 4, 512) == 4_200_960
    assert ch03.attention_params(128, 4, 128) == 263_808
    assert ch03.block_params(512, 4, 512, (1024, 512)) == 5_253_120
    assert ch03.block_params(64, 4, 64, (128, 64)) == 83_200


def test_seed000_first_dense():
    assert ch03.check_seed000_first_dense(84_939_264)
    assert ch03.check_seed000_first_dense(np.int64(84_939_264))
    for wrong, hint in ((84_934_656, "bias"), (9_441_792, "18,432"), (1, "inputs")):
        with pytest.raises(AssertionError, match=hint):
            ch03.check_seed000_first_dense(wrong)
    with pytest.raises(AssertionError, match="whole number"):
        ch03.check_seed000_first_dense("84939264")


def test_key_dim():
    assert ch03.check_key_dim(64, 1_774_464)
    with pytest.raises(AssertionError, match="keras.io"):
        ch03.check_key_dim(384, 1_774_464)
    with pytest.raises(AssertionError, match="token size"):
        ch03.check_key_dim(32, 1_774_464)
    with pytest.raises(AssertionError, match="key_dim=384"):
        ch03.check_key_dim(64, ch03.block_params(384, 6, 384, (1536, 384)))
    with pytest.raises(AssertionError, match="count one block"):
        ch03.check_key_dim(64, 1_774_000)


def test_feature_tokens_params():
    assert ch03.check_feature_tokens_params(1_053_696)
    for wrong, hint in (
        (9 * (2048 * 512 + 512) + 9 * 512, "shared"),
        (1_049_088, "position table"),
        (1_050_624, "9 positions"),
        (7, "projection"),
    ):
        with pytest.raises(AssertionError, match=hint):
            ch03.check_feature_tokens_params(wrong)
