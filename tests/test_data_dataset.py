"""Tests of vitcourse/data/dataset.py: the ImageDataset container, label checks, subsets and splits."""

import numpy as np
import pytest

from vitcourse import data


def test_stratified_subset_balance():
    y = np.repeat(np.arange(5), [40, 30, 20, 4, 6])
    x = np.arange(len(y))[:, None, None, None].astype(np.uint8)
    xs, ys = data.stratified_subset(x, y, 20, seed=1)
    assert len(ys) == 20 and np.bincount(ys).tolist() == [4, 4, 4, 4, 4]
    xs, ys = data.stratified_subset(x, y, 22, seed=1)
    assert sorted(np.bincount(ys).tolist()) == [4, 4, 4, 5, 5]
    xs, ys = data.stratified_subset(x, y, 30, seed=1)
    # Class 3 has only 4 images: the others share what it cannot give.
    counts = np.bincount(ys)
    assert counts[3] == 4 and counts.sum() == 30 and counts.max() - counts[[0, 1, 2, 4]].min() <= 1
    assert np.array_equal(y[xs[:, 0, 0, 0]], ys)  # images stay with their labels
    again = data.stratified_subset(x, y, 30, seed=1)
    assert np.array_equal(again[0], xs)
    with pytest.raises(ValueError, match="out of 100"):
        data.stratified_subset(x, y, 101)


def test_stratified_split():
    y = np.repeat(np.arange(4), [100, 100, 50, 10])
    x = np.arange(len(y))
    x_tr, y_tr, x_val, y_val = data.stratified_split(x, y, 0.1, seed=0)
    assert len(y_val) == 26 and len(y_tr) == 234
    assert np.bincount(y_val).tolist() == [10, 10, 5, 1]
    assert sorted(np.concatenate([x_tr, x_val]).tolist()) == x.tolist()
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.stratified_split(x, y, 1.5)


def test_check_labels():
    assert data.check_labels(np.array([[1], [2]]), 3).tolist() == [1, 2]
    assert data.check_labels([0.0, 2.0], 3).dtype == np.int64
    with pytest.raises(ValueError, match=r"outside \[0, 10\)"):
        data.check_labels([0, 3, 10], 10)
    with pytest.raises(ValueError, match="outside"):
        data.check_labels([-1, 0], 10)
    with pytest.raises(ValueError, match="argmax"):
        data.check_labels(np.eye(3), 3)
    with pytest.raises(ValueError, match="integer"):
        data.check_labels([0.5, 1.0], 3)


def test_image_dataset_flattens_labels_and_rejects_float_images():
    x = np.zeros((2, 4, 4, 3), np.uint8)
    ds = data.ImageDataset(x, np.array([[0], [1]]), x, np.array([1, 0]), ["a", "b"], "tiny")
    assert ds.y_train.shape == (2,) and "tiny" in repr(ds)
    with pytest.raises(ValueError, match="uint8"):
        data.ImageDataset(x / 255, [0, 1], x, [0, 1], ["a", "b"], "tiny")
