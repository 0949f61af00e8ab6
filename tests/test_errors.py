"""Bad input gets a clear error that says what was wrong and how to fix it.

Each case: what the reader does, the exception, and words the message must
contain (what was wrong, and the way out).
"""

import numpy as np
import pytest

import vitcourse
from vitcourse import data
from vitcourse.config import run_mode
from vitcourse.layers import Patches, PositionEmbedding, TransformerBlock
from vitcourse.plots import plot_patch_grid


def read_truncated_tarball(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    md5 = data.write_cifar_tarball(path, "cifar10", n_train=20, n_test=10)
    path.write_bytes(path.read_bytes()[:-200])  # a half-written download
    return data.read_cifar_tarball(path, "cifar10", md5=md5)


CASES = {
    "image rank": (lambda tmp: Patches(4)(np.zeros((32, 32, 3))), ValueError, ["rank 4", "images[None]"]),
    "patch does not divide image": (
        lambda tmp: Patches(5)(np.zeros((1, 32, 32, 3))), ValueError, ["32", "patch_size 5", "Resize"]),
    "patch size not positive": (lambda tmp: Patches(0), ValueError, ["positive integer"]),
    "unknown preset": (lambda tmp: vitcourse.build_model("vit_huge"), ValueError, ["vit_huge", "course_vit"]),
    "unknown preset field": (
        lambda tmp: vitcourse.build_model("course_vit", layers=3), ValueError, ["layers", "depth"]),
    "preset patch does not divide": (
        lambda tmp: vitcourse.build_model("course_vit", patch_size=5), ValueError, ["patch_size 5", "divides"]),
    "unknown dataset": (lambda tmp: data.load_dataset("imagenet"), ValueError, ["imagenet", "cifar10"]),
    "labels out of range": (
        lambda tmp: data.check_labels(np.array([0, 3, 100]), 100), ValueError, ["outside [0, 100)", "remap"]),
    "missing image folder": (
        lambda tmp: data.load_image_folder(tmp / "nowhere"), FileNotFoundError, ["nowhere"]),
    "half-written cache file": (
        read_truncated_tarball, data.ChecksumError, ["half-written", "Delete it"]),
    "position table size": (
        lambda tmp: PositionEmbedding(10)(np.zeros((1, 12, 4))), ValueError, ["12", "num_positions"]),
    "mlp does not end at token size": (
        lambda tmp: TransformerBlock(2, 4, [32, 16])(np.zeros((1, 5, 8))), ValueError, ["mlp_units=[..., 8]"]),
    "unknown position embedding": (
        lambda tmp: PositionEmbedding(4, kind="rotary"), ValueError, ["rotary", "sincos"]),
    "plot patch grid": (lambda tmp: plot_patch_grid(np.zeros((30, 30, 3)), 4), ValueError, ["30x30", "divides"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_error(case, tmp_path):
    action, error, words = CASES[case]
    with pytest.raises(error) as info:
        action(tmp_path)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"


def test_bad_run_mode(monkeypatch):
    monkeypatch.setenv("VITCOURSE_MODE", "fast")
    with pytest.raises(ValueError, match="smoke, quick, full"):
        run_mode()


def test_cifar_dir_without_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("VITCOURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cifar-100-python.tar.gz"):
        data.load_cifar("cifar100")
