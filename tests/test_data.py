"""Tests of vitcourse.data: offline, on data the tests generate (and the JPEG copy if present)."""

import io
import pickle
import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from vitcourse import data
from vitcourse.config import run_size

# The fine -> coarse table as published (e.g. in many CIFAR-100 codebases): a
# second, independent source for CIFAR100_FINE_TO_COARSE.
PUBLISHED_FINE_TO_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]  # fmt: skip


def read_member(path, member):
    """Unpickle one member of a tarball, independently of the code under test."""
    with tarfile.open(path, "r:gz") as tar:
        return pickle.load(tar.extractfile(member), encoding="bytes")


# --- label names -----------------------------------------------------------


def test_label_names():
    assert len(data.CIFAR10_LABELS) == 10
    assert data.CIFAR10_LABELS[0] == "airplane" and data.CIFAR10_LABELS[9] == "truck"
    assert len(data.CIFAR100_FINE_LABELS) == 100 == len(set(data.CIFAR100_FINE_LABELS))
    assert data.CIFAR100_FINE_LABELS[69] == "rocket"
    assert data.CIFAR100_FINE_LABELS[:2] == ["apple", "aquarium_fish"]
    assert data.CIFAR100_FINE_LABELS[-1] == "worm"
    # The official fine order is alphabetical.
    assert data.CIFAR100_FINE_LABELS == sorted(data.CIFAR100_FINE_LABELS)
    assert len(data.CIFAR100_COARSE_LABELS) == 20
    assert data.CIFAR100_COARSE_LABELS[9] == "large_man-made_outdoor_things"
    assert data.CIFAR100_COARSE_LABELS[-1] == "vehicles_2"
    assert data.CIFAR100_FINE_TO_COARSE.tolist() == PUBLISHED_FINE_TO_COARSE


# --- official tarball format -------------------------------------------------


def test_cifar10_tarball_round_trip(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    md5 = data.write_cifar_tarball(path, "cifar10", n_train=100, n_test=20, seed=3)
    assert md5 == data.md5_of(path)
    ds = data.read_cifar_tarball(path, "cifar10", md5=md5)

    assert ds.name == "cifar10"
    assert ds.x_train.shape == (100, 32, 32, 3) and ds.x_test.shape == (20, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (100,) and ds.y_train.dtype == np.int64
    assert ds.label_names == data.CIFAR10_LABELS

    # Labels and pixels equal what the file holds, read here without the package.
    batches = [read_member(path, f"cifar-10-batches-py/data_batch_{i}") for i in range(1, 6)]
    test = read_member(path, "cifar-10-batches-py/test_batch")
    assert ds.y_train.tolist() == sum((b[b"labels"] for b in batches), [])
    assert ds.y_test.tolist() == test[b"labels"]
    rows = np.concatenate([b[b"data"] for b in batches])
    assert rows.shape == (100, 3072) and rows.dtype == np.uint8
    # Row layout: the R plane, then G, then B, each 32x32 row-major.
    for i, r, c, channel in [(0, 0, 0, 0), (7, 5, 30, 1), (99, 31, 2, 2)]:
        assert ds.x_train[i, r, c, channel] == rows[i, channel * 1024 + r * 32 + c]
    meta = read_member(path, "cifar-10-batches-py/batches.meta")
    assert meta[b"label_names"][3] == b"cat"


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_tarball_round_trip(tmp_path, label_mode):
    path = tmp_path / "cifar-100-python.tar.gz"
    md5 = data.write_cifar_tarball(path, "cifar100", n_train=200, n_test=50)
    ds = data.read_cifar_tarball(path, "cifar100", md5=md5, label_mode=label_mode)

    train = read_member(path, "cifar-100-python/train")
    test = read_member(path, "cifar-100-python/test")
    assert ds.x_train.shape == (200, 32, 32, 3) and ds.x_test.shape == (50, 32, 32, 3)
    assert ds.y_train.dtype == np.int64 and ds.y_test.shape == (50,)
    assert ds.y_train.tolist() == train[f"{label_mode}_labels".encode()]
    assert ds.y_test.tolist() == test[f"{label_mode}_labels".encode()]
    # The coarse label of each image is its fine class's superclass.
    assert train[b"coarse_labels"] == data.CIFAR100_FINE_TO_COARSE[train[b"fine_labels"]].tolist()
    if label_mode == "fine":
        assert ds.name == "cifar100" and ds.label_names == data.CIFAR100_FINE_LABELS
    else:
        assert ds.name == "cifar100_coarse" and ds.label_names == data.CIFAR100_COARSE_LABELS


def test_generated_tarball_is_deterministic(tmp_path):
    first = data.write_cifar_tarball(tmp_path / "a.tar.gz", seed=1)
    again = data.write_cifar_tarball(tmp_path / "b.tar.gz", seed=1)
    other = data.write_cifar_tarball(tmp_path / "c.tar.gz", seed=2)
    assert first == again != other
    assert not list(tmp_path.glob("*.part"))


def refuse_unpickling(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the file was opened before its checksum was verified")

    monkeypatch.setattr(pickle, "load", fail)
    monkeypatch.setattr(tarfile, "open", fail)


def test_tampered_tarball_is_refused_before_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "cifar-10-python.tar.gz"
    md5 = data.write_cifar_tarball(path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 3] ^= 0x55
    path.write_bytes(bytes(blob))
    refuse_unpickling(monkeypatch)
    with pytest.raises(data.ChecksumError) as err:
        data.read_cifar_tarball(path, "cifar10", md5=md5)
    message = str(err.value)
    assert str(path) in message and md5 in message and data.md5_of(path) in message
    assert "tampered" in message and "VITCOURSE_DATA_DIR" in message


def test_truncated_tarball_is_refused_before_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "cifar-100-python.tar.gz"
    md5 = data.write_cifar_tarball(path, "cifar100")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a half-written download
    refuse_unpickling(monkeypatch)
    with pytest.raises(data.ChecksumError, match="half-written"):
        data.read_cifar_tarball(path, "cifar100", md5=md5)
    assert issubclass(data.ChecksumError, ValueError)


def test_default_checksum_is_the_official_one(tmp_path, monkeypatch):
    path = tmp_path / "cifar-10-python.tar.gz"
    data.write_cifar_tarball(path)
    refuse_unpickling(monkeypatch)
    with pytest.raises(data.ChecksumError, match=data.CIFAR_ARCHIVES["cifar10"]["md5"]):
        data.read_cifar_tarball(path, "cifar10")


def test_cifar_archive_facts():
    assert data.CIFAR_ARCHIVES["cifar10"]["md5"] == "c58f30108f718f92721af3b95e74349a"
    assert data.CIFAR_ARCHIVES["cifar100"]["md5"] == "eb9058c3a382ffc7106e4002c42a8d85"
    for archive in data.CIFAR_ARCHIVES.values():
        assert archive["url"] == "https://www.cs.toronto.edu/~kriz/" + archive["fname"]


def test_read_cifar_tarball_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="label_mode"):
        data.read_cifar_tarball(tmp_path / "x", "cifar100", label_mode="medium")
    with pytest.raises(ValueError, match="no coarse labels"):
        data.read_cifar_tarball(tmp_path / "x", "cifar10", label_mode="coarse")
    with pytest.raises(ValueError, match="cifar10"):
        data.read_cifar_tarball(tmp_path / "x", "mnist")
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        data.read_cifar_tarball(tmp_path / "missing.tar.gz", "cifar10")


# --- load_cifar: where the file comes from ----------------------------------


def test_data_dir_without_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VITCOURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        data.load_cifar("cifar100")
    assert str(tmp_path / "cifar-100-python.tar.gz") in str(err.value)


def test_data_dir_with_the_file(tmp_path, monkeypatch):
    md5 = data.write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz")
    monkeypatch.setenv("VITCOURSE_DATA_DIR", str(tmp_path))
    # The generated file is not the official one, so the official md5 refuses it...
    with pytest.raises(data.ChecksumError):
        data.load_cifar("cifar10")
    # ...and with its own md5 registered, it is read.
    monkeypatch.setitem(data.CIFAR_ARCHIVES["cifar10"], "md5", md5)
    assert data.load_cifar("cifar10").x_train.shape == (100, 32, 32, 3)


def test_download_failure_is_explained(monkeypatch):
    monkeypatch.delenv("VITCOURSE_DATA_DIR", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_cifar("cifar10")
    message = str(err.value)
    assert "Temporary failure in name resolution" in message
    assert "VITCOURSE_DATA_DIR" in message and "VITCOURSE_MODE=smoke" in message
    assert isinstance(err.value, RuntimeError)


def test_download_path_calls_get_file_then_checks(tmp_path, monkeypatch):
    monkeypatch.delenv("VITCOURSE_DATA_DIR", raising=False)
    path = tmp_path / "cifar-100-python.tar.gz"
    md5 = data.write_cifar_tarball(path, "cifar100")
    monkeypatch.setitem(data.CIFAR_ARCHIVES["cifar100"], "md5", md5)
    calls = []

    def fake_get_file(fname, origin, file_hash, cache_subdir):
        calls.append((fname, origin, file_hash, cache_subdir))
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    ds = data.load_cifar("cifar100", label_mode="coarse")
    assert calls == [("cifar-100-python.tar.gz", data.CIFAR_ARCHIVES["cifar100"]["url"], md5, "datasets")]
    assert ds.num_classes == 20


# --- generated stand-in data ------------------------------------------------


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


# --- subsets and splits -----------------------------------------------------


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


# --- other offline data -----------------------------------------------------


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


def make_image_folder(root, classes=("dog", "cat", "bird"), per_class=4, size=(6, 5)):
    """root/<class>/<i>.png, each class a flat colour: (10*class_index, i, 200)."""
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.zeros((*size, 3), np.uint8) + np.array([10 * k, i, 200], np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_load_image_folder(tmp_path):
    root = make_image_folder(tmp_path / "images")
    (root / "cat" / "notes.txt").write_text("not an image: skipped")
    x, y, names = data.load_image_folder(root)
    assert names == ["bird", "cat", "dog"]  # sorted folder names
    assert x.shape == (12, 6, 5, 3) and x.dtype == np.uint8
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and y.dtype == np.int64
    # bird was written as class index 2, so its red channel is 20; files in sorted order.
    assert x[0, 0, 0].tolist() == [20, 0, 200] and x[3, 0, 0].tolist() == [20, 3, 200]

    x, y, names = data.load_image_folder(root, image_size=8, class_names=["dog", "cat"], limit_per_class=2)
    assert x.shape == (4, 8, 8, 3) and names == ["dog", "cat"] and y.tolist() == [0, 0, 1, 1]


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_image_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class sub-folders"):
        data.load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        data.load_image_folder(tmp_path)

    root = make_image_folder(tmp_path / "broken")
    (root / "cat" / "9.png").write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match="9.png"):
        data.load_image_folder(root)

    root = make_image_folder(tmp_path / "mixed")
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "dog" / "big.png")
    with pytest.raises(ValueError, match="image_size"):
        data.load_image_folder(root)
    assert data.load_image_folder(root, image_size=(4, 6))[0].shape == (13, 4, 6, 3)


def make_jpeg_tarball(path, per_class=3):
    """A tarball laid out like the CIFAR-10 JPEG copy: train/<class>/NNNN.jpg."""
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(data.CIFAR10_LABELS):
            for i in range(per_class):
                buffer = io.BytesIO()
                Image.fromarray(np.full((32, 32, 3), 20 * k, np.uint8)).save(buffer, "JPEG")
                info = tarfile.TarInfo(f"train/{name}/{i:04d}.jpg")
                info.size = buffer.tell()
                buffer.seek(0)
                tar.addfile(info, buffer)
    return data._file_digest(path, "sha256")


def test_extract_jpeg_tarball_once(tmp_path):
    tarball = tmp_path / "tiny.tar.gz"
    sha256 = make_jpeg_tarball(tarball)
    dest = tmp_path / "cache"
    with pytest.raises(data.ChecksumError, match="sha256"):
        data.extract_cifar10_jpeg(tarball, dest)  # the official sha256 does not match

    train_dir = data.extract_cifar10_jpeg(tarball, dest, sha256=sha256)
    assert train_dir == dest / "train" and len(list(train_dir.glob("*/*.jpg"))) == 30
    # Extracted once: a second call does not need the tarball any more.
    tarball.rename(tmp_path / "moved.tar.gz")
    assert data.extract_cifar10_jpeg(tarball, dest, sha256=sha256) == train_dir

    # A half-done extraction (no marker) is redone from scratch.
    (dest / ".complete").unlink()
    (train_dir / "cat" / "leftover.jpg").write_bytes(b"partial")
    data.extract_cifar10_jpeg(tmp_path / "moved.tar.gz", dest, sha256=sha256)
    assert not (train_dir / "cat" / "leftover.jpg").exists()
    assert len(list(train_dir.glob("*/*.jpg"))) == 30
    assert (dest / ".complete").read_text() == sha256
    assert sorted(p.name for p in dest.iterdir()) == [".complete", "train"]  # no scratch left


def test_extract_jpeg_missing_tarball(tmp_path, monkeypatch):
    monkeypatch.setenv("VITCOURSE_CIFAR10_JPEG", str(tmp_path / "absent.tar.gz"))
    with pytest.raises(FileNotFoundError, match="absent.tar.gz"):
        data.extract_cifar10_jpeg(dest=tmp_path / "cache")


REAL_JPEG = Path(data.__file__).resolve().parents[2] / "shared/data/cifar10-train-jpeg.tar.gz"


@pytest.mark.skipif(not REAL_JPEG.is_file(), reason="the CIFAR-10 JPEG copy is not on this machine")
def test_load_real_cifar10_jpeg():
    # The default cache folder, as real runs use it: the first run extracts
    # (5-20 s), later runs reuse the extraction.
    ds = data.load_cifar10_jpeg(val_fraction=0.2, limit=100, tarball=REAL_JPEG)
    assert ds.name == "cifar10_jpeg" and ds.label_names == data.CIFAR10_LABELS
    assert ds.x_train.shape == (80, 32, 32, 3) and ds.x_test.shape == (20, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [8] * 10 and np.bincount(ds.y_test).tolist() == [2] * 10
    assert 60 < ds.x_train.mean() < 200  # real photos, not blank images


# --- load_dataset -----------------------------------------------------------


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


# --- input pipelines --------------------------------------------------------


def augmentation():
    return keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.1, 0.1)])


@pytest.mark.parametrize("augment", [None, augmentation])
def test_make_tf_dataset(augment):
    pytest.importorskip("tensorflow")
    ds = data.synthetic_cifar(n_train=70, n_test=10)
    pipeline = data.make_tf_dataset(
        ds.x_train, ds.y_train, batch_size=32, shuffle=True, augment=augment and augment()
    )
    batches = list(pipeline.as_numpy_iterator())
    assert [len(labels) for _, labels in batches] == [32, 32, 6]
    images, labels = batches[0]
    assert images.shape == (32, 32, 32, 3) and images.dtype == np.float32
    assert labels.dtype == np.int64
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == sorted(ds.y_train.tolist())
    if augment is None:
        assert images.max() > 1  # pixels stay in [0, 255]: models rescale inside


def test_array_dataset_batches_and_shuffles():
    x = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    y = np.arange(10)
    ds = data.ArrayDataset(x, y, batch_size=4, shuffle=True, seed=0)
    assert len(ds) == 3
    images, labels = ds[0]
    assert images.shape == (4, 4, 4, 3) and images.dtype == np.float32
    assert np.array_equal(images[:, 0, 0, 0], labels)  # images stay with their labels
    assert ds[2][0].shape == (2, 4, 4, 3)
    first = np.concatenate([ds[i][1] for i in range(3)])
    ds.on_epoch_end()
    second = np.concatenate([ds[i][1] for i in range(3)])
    assert sorted(first) == sorted(second) == list(range(10)) and not np.array_equal(first, second)
    with pytest.raises(IndexError):
        ds[3]


def test_array_dataset_trains_a_model_with_augmentation():
    ds = data.synthetic_cifar(n_train=64, n_test=16, image_size=16)
    train = data.ArrayDataset(ds.x_train, ds.y_train, batch_size=32, shuffle=True, augment=augmentation())
    images, labels = train[0]
    assert images.shape == (32, 16, 16, 3) and images.dtype == np.float32
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_make_tf_dataset_with_the_course_augmentation():
    """course_vit's flip/shift layers (a fixed Normalization inside) run in the pipeline."""
    pytest.importorskip("tensorflow")
    from vitcourse.presets import augmentation_layers, get_preset

    x = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3)).astype("uint8")
    augment = augmentation_layers(get_preset("course_vit"))
    images, labels = next(iter(data.make_tf_dataset(x, np.arange(8) % 2, 4, augment=augment)))
    assert tuple(images.shape) == (4, 32, 32, 3) and tuple(labels.shape) == (4,)
    assert abs(float(np.mean(images))) < 3  # normalised, not raw pixels
