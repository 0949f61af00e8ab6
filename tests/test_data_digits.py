"""Tests of vitcourse/data/digits.py: scikit-learn's digits as an ImageDataset."""

import numpy as np
import pytest

from vitcourse import data


def test_digits_dataset():
    ds = data.load_digits_dataset(image_size=16)
    assert ds.x_train.shape == (1348, 16, 16, 3) and ds.x_test.shape == (449, 16, 16, 3)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.max() == 255
    assert ds.label_names == [str(d) for d in range(10)]
    assert set(np.unique(ds.y_test)) == set(range(10))
    grey = data.load_digits_dataset(image_size=32, channels=1)
    assert grey.x_train.shape[1:] == (32, 32, 1)
    with pytest.raises(ValueError, match="multiple of 8"):
        data.load_digits_dataset(image_size=20)
