"""Tests of vitcourse/data/synthetic.py: generated stand-in images and generated official-format tarballs."""

import numpy as np

from vitcourse import data


def test_generated_tarball_is_deterministic(tmp_path):
    first = data.write_cifar_tarball(tmp_path / "a.tar.gz", seed=1)
    again = data.write_cifar_tarball(tmp_path / "b.tar.gz", seed=1)
    other = data.write_cifar_tarball(tmp_path / "c.tar.gz", seed=2)
    assert first == again != other
    assert not list(tmp_path.glob("*.part"))


def test_synthetic_cifar_shapes_and_determinism():
    a = data.synthetic_cifar("cifar10", n_train=60, n_test=30, seed=5)
    b = data.synthetic_cifar("cifar10", n_train=60, n_test=30, seed=5)
    c = data.synthetic_cifar("cifar10", n_train=60, n_test=30, seed=6)
    assert a.x_train.shape == (60, 32, 32, 3) and a.x_test.shape == (30, 32, 32, 3)
    assert a.x_train.dtype == np.uint8 and a.y_train.dtype == np.int64
    assert a.label_names == data.CIFAR10_LABELS
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert np.bincount(a.y_train).tolist() == [6] * 10

    small = data.synthetic_cifar("cifar100", n_train=200, n_test=100, image_size=16, label_mode="coarse")
    assert small.x_train.shape == (200, 16, 16, 3) and small.label_names == data.CIFAR100_COARSE_LABELS
    assert small.y_train.max() < 20


def test_synthetic_classes_are_learnable():
    ds = data.synthetic_cifar("cifar10", n_train=500, n_test=200)
    # Even a nearest-class-mean classifier must be far above chance (10%).
    x_train = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float32)
    x_test = ds.x_test.reshape(len(ds.x_test), -1).astype(np.float32)
    means = np.stack([x_train[ds.y_train == c].mean(0) for c in range(10)])
    predicted = ((x_test[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (predicted == ds.y_test).mean() > 0.8
