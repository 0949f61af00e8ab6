"""Tests of vitcourse/data/load.py: load_dataset, every dataset by name, sized for the run mode."""

import keras
import numpy as np
import pytest

from vitcourse import data
from vitcourse.config import run_size


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match="cifar100_coarse.*synthetic100"):
        data.load_dataset("imagenet", mode="smoke")


def test_load_dataset_smoke_mode_uses_stand_ins(monkeypatch, capsys):
    monkeypatch.setenv("VITCOURSE_MODE", "smoke")
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("smoke mode must not download"))
    size = run_size("smoke")
    ds = data.load_dataset("cifar10")
    assert "generated stand-in" in capsys.readouterr().out
    assert ds.x_train.shape == (size.train_images, 32, 32, 3)
    assert ds.x_test.shape == (size.test_images, 32, 32, 3)
    assert ds.label_names == data.CIFAR10_LABELS and ds.name.startswith("synthetic")

    coarse = data.load_dataset("cifar100_coarse")
    assert coarse.label_names == data.CIFAR100_COARSE_LABELS and coarse.y_train.max() < 20
    assert data.load_dataset("cifar10_jpeg").label_names == data.CIFAR10_LABELS


def test_load_dataset_quick_mode_subsets_real_data():
    size = run_size("quick")
    digits = data.load_dataset("digits", mode="quick")  # smaller than the quick size: all of it
    assert len(digits.y_train) == 1348
    smoke = data.load_dataset("digits", mode="smoke")
    assert len(smoke.y_train) == run_size("smoke").train_images
    assert np.bincount(smoke.y_train).max() - np.bincount(smoke.y_train).min() <= 1
    synthetic = data.load_dataset("synthetic100", mode="quick")
    assert synthetic.x_train.shape[0] == size.train_images and synthetic.num_classes == 100


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_load_dataset_refuses_a_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed must be a whole number >= 0"):
        data.load_dataset("digits", mode="smoke", seed=seed)
