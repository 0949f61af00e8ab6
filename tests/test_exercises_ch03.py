"""The checkers of chapter 03 accept right answers and reject wrong ones with a hint."""

import numpy as np
import pytest

import vitcourse
from vitcourse.exercises import NotAttempted, ch03


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


def test_reference_counts_match_the_questions():
    # the counts printed in the model summaries of the course's source questions
    assert ch03.attention_params(512, 4, 512) == 4_200_960
    assert ch03.attention_params(128, 4, 128) == 263_808
    assert ch03.block_params(512, 4, 512, (1024, 512)) == 5_253_120
    assert ch03.block_params(64, 4, 64, (128, 64)) == 83_200


def test_resnet_first_dense():
    assert ch03.check_resnet_first_dense(84_939_264)
    assert ch03.check_resnet_first_dense(np.int64(84_939_264))
    for wrong, hint in ((84_934_656, "bias"), (9_441_792, "18,432"), (1, "inputs")):
        with pytest.raises(AssertionError, match=hint):
            ch03.check_resnet_first_dense(wrong)
    with pytest.raises(AssertionError, match="whole number"):
        ch03.check_resnet_first_dense("84939264")


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
        (1_050_624, "9 positions"),  # the 3 rows of the question's table
        (7, "projection"),
    ):
        with pytest.raises(AssertionError, match=hint):
            ch03.check_feature_tokens_params(wrong)


# ---- Exercise 3.6: keras.io's ViT with standard heads -------------------------------------

@pytest.fixture(scope="module")
def standard():
    return vitcourse.build_model("kerasio_vit", key_dim=16)


def test_standard_heads_right(standard):
    assert ch03.STANDARD_HEADS_SAVING == 397_824
    saved = vitcourse.build_model("kerasio_vit").count_params() - standard.count_params()
    assert saved == 397_824
    assert ch03.check_standard_heads(standard, saved)


@pytest.mark.parametrize(
    "overrides, hint",
    [
        ({}, "keras.io's key_dim = projection_dim"),
        (dict(key_dim=8), "should be as wide as a token"),
        (dict(num_heads=1, key_dim=64), "keep keras.io's 4"),
        (dict(key_dim=16, depth=6), "6 transformer blocks"),
        (dict(key_dim=16, head_units=(1024,)), "Something else changed"),
        (dict(key_dim=16, patch_size=8), r"\(81, 64\)"),
        (dict(key_dim=16, num_classes=10), r"\(None, 10\)"),
    ],
)
def test_standard_heads_wrong_model(overrides, hint):
    with pytest.raises(AssertionError, match=hint):
        ch03.check_standard_heads(vitcourse.build_model("kerasio_vit", **overrides), 397_824)


def test_standard_heads_wrong_saving(standard):
    for wrong, hint in ((-397_824, "other way round"), (49_728, "one block"), (400_000, "minus your model"),
                        (397_824.0, "whole number")):
        with pytest.raises(AssertionError, match=hint):
            ch03.check_standard_heads(standard, wrong)


# ---- Student stubs: "not attempted yet", never a traceback ---------------------------------

def stub(*args):
    raise NotImplementedError("Exercise 3.x: write your answer here.")


@pytest.mark.parametrize(
    "check, answers",
    [
        (ch03.check_block_params, (None,)),
        (ch03.check_block_params, (stub,)),
        (ch03.check_resnet_first_dense, (None,)),
        (ch03.check_key_dim, (None, None)),
        (ch03.check_feature_tokens_params, (None,)),
        (ch03.check_standard_heads, (None, None)),
    ],
)
def test_a_stub_is_not_attempted(check, answers):
    result = check(*answers)
    assert isinstance(result, NotAttempted) and not result
    assert "not attempted yet" in repr(result)
