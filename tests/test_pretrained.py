"""The trained course_vit that ships with the package: recorded, checksummed, loadable."""

import shutil

import numpy as np
import pytest

from vitcourse import pretrained
from vitcourse.data import ChecksumError, file_digest


def test_the_shipped_model_matches_its_record():
    record = pretrained.trained_record()
    path = pretrained.HERE / record["file"]
    assert file_digest(path, "sha256") == record["sha256"] and path.stat().st_size == record["bytes"]
    assert record["bytes"] < 5 * 2**20, "the shipped model should stay a few MB"
    assert record["dataset"] == "CIFAR-10 (JPEG copy)" and len(record["label_names"]) == 10
    assert 0.1 < record["held_out_accuracy"] <= 1 and record["held_out_images"] == 5000
    assert record["training_provenance"]["command"].startswith("python -m vitcourse train --preset course_vit")
    model = pretrained.load_trained()
    assert model.count_params() == record["parameters"]
    logits = np.asarray(model(np.zeros((2, 32, 32, 3), "float32")))
    assert logits.shape == (2, 10) and np.isfinite(logits).all()


def test_a_damaged_file_is_refused_before_loading(tmp_path, monkeypatch):
    for path in pretrained.HERE.glob(f"{pretrained.NAME}.*"):
        shutil.copy(path, tmp_path / path.name)
    damaged = tmp_path / f"{pretrained.NAME}.weights.h5"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    with pytest.raises(ChecksumError, match="damaged or was replaced"):
        pretrained.load_trained()


def test_a_missing_model_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    with pytest.raises(FileNotFoundError, match="benchmarks.ship_model"):
        pretrained.load_trained()
