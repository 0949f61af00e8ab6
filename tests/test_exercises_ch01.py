"""The checkers of chapter 01, each with a right answer and wrong ones (any backend)."""

import numpy as np
import pytest

import vitcourse
from vitcourse.exercises import NotAttempted, ch01


# ---- Exercise 1.1: num_patches ------------------------------------------------------------

def num_patches(image_size, patch_size):
    if image_size % patch_size:
        raise ValueError(f"{patch_size} does not divide {image_size}")
    return (image_size // patch_size) ** 2


def num_patches_float(image_size, patch_size):
    if image_size % patch_size:
        raise ValueError("not divisible")
    return (image_size / patch_size) ** 2


def num_patches_silent(image_size, patch_size):  # the 2x2 patches project's int(H*W/(P*P))
    return int(image_size * image_size / (patch_size * patch_size))


def num_patches_per_row(image_size, patch_size):
    if image_size % patch_size:
        raise ValueError("not divisible")
    return image_size // patch_size


def test_check_num_patches_right():
    assert ch01.check_num_patches(num_patches)


@pytest.mark.parametrize(
    "wrong, hint",
    [(num_patches_float, "int"), (num_patches_silent, "ValueError"), (num_patches_per_row, "patches per row")],
)
def test_check_num_patches_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch01.check_num_patches(wrong)


def num_patches_assert(image_size, patch_size):  # refuses, but with the wrong exception
    assert image_size % patch_size == 0, "patch_size must divide image_size"
    return (image_size // patch_size) ** 2


def num_patches_zero_division(image_size, patch_size):
    if image_size % patch_size:
        raise ZeroDivisionError("not divisible")
    return (image_size // patch_size) ** 2


def num_patches_refuses_everything(image_size, patch_size):
    raise ValueError("no")


@pytest.mark.parametrize("wrong", [num_patches_assert, num_patches_zero_division])
def test_check_num_patches_other_exception_gets_the_value_error_hint(wrong):
    # The user's own AssertionError must not pass as the checker's hint: the hint names what was raised.
    with pytest.raises(AssertionError, match=r"raised .*raise ValueError") as caught:
        ch01.check_num_patches(wrong)
    assert "Not yet" in str(caught.value)
    assert ("AssertionError" if wrong is num_patches_assert else "ZeroDivisionError") in str(caught.value)


def test_check_num_patches_error_on_a_divisible_size():
    with pytest.raises(AssertionError, match="raised ValueError: no. But 4 divides 32"):
        ch01.check_num_patches(num_patches_refuses_everything)


# ---- Exercise 1.2: patchify ---------------------------------------------------------------

def patchify(images, patch_size):
    b, h, w, c = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, -1, p * p * c)


def patchify_reshape(images, patch_size):  # the 2x2 patches project: strips, not squares
    b, h, w, c = images.shape
    return images.reshape(b, -1, patch_size * patch_size * c)


def patchify_column_order(images, patch_size):  # patches top to bottom, then left to right
    b, h, w, c = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 3, 1, 2, 4, 5)
    return x.reshape(b, -1, p * p * c)


def patchify_wrong_shape(images, patch_size):
    return patchify(images, patch_size)[0]


def patchify_in_place(images, patch_size):
    out = patchify(images.copy(), patch_size)
    images *= 0
    return out


def test_check_patchify_right():
    assert ch01.check_patchify(patchify)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (patchify_reshape, "strips"),
        (patchify_column_order, "reading order"),
        (patchify_wrong_shape, "shape"),
        (patchify_in_place, "changed its input"),
    ],
)
def test_check_patchify_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch01.check_patchify(wrong)


def test_check_patchify_accepts_backend_tensors():
    import keras

    assert ch01.check_patchify(lambda x, p: keras.ops.convert_to_tensor(patchify(x, p)))


# ---- Exercise 1.3: patch size for at most 64 tokens ---------------------------------------

def test_check_patch_size_choice_right():
    assert ch01.check_patch_size_choice(4)
    assert ch01.check_patch_size_choice(np.int64(4))


@pytest.mark.parametrize(
    "wrong, hint",
    [(2, "more than 64"), (8, "larger than they need"), (3, "does not divide"), (64, "does not fit"),
     (4.0, "int"), ("4", "int"), (True, "int")],
)
def test_check_patch_size_choice_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch01.check_patch_size_choice(wrong)


def test_a_right_answer_says_so_in_a_notebook():
    solved = ch01.check_patch_size_choice(4)
    assert solved and repr(solved) == "Correct: Exercise 1.3 (patch size for 64 tokens) is solved."


# ---- Exercise 1.5: the patch size of a model ----------------------------------------------

def vit_for_patches(patch_size):
    return vitcourse.build_model("course_vit", patch_size=patch_size, num_classes=10, depth=1)


def test_check_patch_size_model_right():
    assert ch01.check_patch_size_model(vit_for_patches)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda p: vitcourse.build_model("course_vit", num_classes=10, depth=1), "still course_vit's 4"),
        (lambda p: vitcourse.build_model("course_vit", patch_size=p, depth=1), "num_classes=10"),
        (lambda p: vitcourse.build_model("course_vit", patch_size=p, num_classes=10, depth=1, image_size=64),
         "tokens, not"),
        (lambda p: vitcourse.build_model("course_vit", patch_size=p, num_classes=10, depth=1,
                                         input_shape=(64, 64, 3)), "input_shape"),
        (lambda p: "a model", "keras.Model"),
    ],
)
def test_check_patch_size_model_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ch01.check_patch_size_model(wrong)


# ---- Student stubs: "not attempted yet", never a traceback ---------------------------------

def stub(*args):
    raise NotImplementedError("Exercise 1.x: write your answer here.")


@pytest.mark.parametrize(
    "check, answer",
    [
        (ch01.check_num_patches, None),
        (ch01.check_num_patches, stub),
        (ch01.check_patchify, None),
        (ch01.check_patchify, stub),
        (ch01.check_patch_size_choice, None),  # a value: its stub is None
        (ch01.check_patch_size_model, None),
        (ch01.check_patch_size_model, stub),
    ],
)
def test_a_stub_is_not_attempted(check, answer):
    result = check(answer)
    assert isinstance(result, NotAttempted) and not result
    assert "not attempted yet" in repr(result)
