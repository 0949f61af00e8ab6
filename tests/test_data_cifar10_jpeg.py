"""Tests of vitcourse/data/cifar10_jpeg.py: the JPEG copy of CIFAR-10, extracted once and safely."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitcourse import data


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
    return data.file_digest(path, "sha256")


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

    # An extraction that stopped before its marker said "complete" is redone from scratch.
    (dest / ".complete").write_text("extracting")
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


# shared/ sits beside the repository: /work/main/tests/ -> /work/shared/data/
REAL_JPEG = Path(__file__).resolve().parents[2] / "shared/data/cifar10-train-jpeg.tar.gz"


@pytest.mark.skipif(not REAL_JPEG.is_file(), reason="the CIFAR-10 JPEG copy is not on this machine")
def test_load_real_cifar10_jpeg():
    # The default cache folder, as real runs use it: the first run extracts
    # (5-20 s), later runs reuse the extraction.
    ds = data.load_cifar10_jpeg(val_fraction=0.2, limit=100, tarball=REAL_JPEG)
    assert ds.name == "cifar10_jpeg" and ds.label_names == data.CIFAR10_LABELS
    assert ds.x_train.shape == (80, 32, 32, 3) and ds.x_test.shape == (20, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [8] * 10 and np.bincount(ds.y_test).tolist() == [2] * 10
    assert 60 < ds.x_train.mean() < 200  # real photos, not blank images


def test_extract_leaves_a_train_folder_it_did_not_write(tmp_path):
    tarball = tmp_path / "tiny.tar.gz"
    sha256 = make_jpeg_tarball(tarball)
    dest = tmp_path / "my_data"
    (dest / "train").mkdir(parents=True)
    (dest / "train" / "my_photo.jpg").write_bytes(b"the user's own file")
    with pytest.raises(FileExistsError, match="was not extracted by extract_cifar10_jpeg"):
        data.extract_cifar10_jpeg(tarball, dest, sha256=sha256)
    assert (dest / "train" / "my_photo.jpg").read_bytes() == b"the user's own file"
    assert sorted(p.name for p in dest.iterdir()) == ["train"]
