"""A small trained ``course_vit`` that ships with the package, for the chapters that look inside one.

Pictures of an untrained model's attention teach nothing, and a reader in smoke
mode or without a GPU has no trained model of their own. This one was trained by
one recorded command, ``python -m benchmarks.ship_model``, on the CIFAR-10 JPEG
copy; ``course_vit_cifar10.json`` beside it holds its sha256, its accuracy on
5,000 held-out images and its provenance (command, hardware, time, commit).

Example::

    model = load_trained()             # checks the weights' sha256, then builds and loads the model
    record = trained_record()          # {"held_out_accuracy": ..., "label_names": [...], ...}

Introduced in chapter 08.
"""

import json
from pathlib import Path

from vitcourse.data import ChecksumError, file_digest

HERE = Path(__file__).resolve().parent
NAME = "course_vit_cifar10"


def trained_record(name=NAME):
    """The record of how the shipped model ``name`` was made (a dict)."""
    path = HERE / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"No shipped model {name!r} in {HERE}: the package was installed without it. "
            "Reinstall the package, or make it with `python -m benchmarks.ship_model`."
        )
    return json.loads(path.read_text())


def load_trained(name=NAME):
    """The shipped trained model ``name``: built from its preset, given its weights once their sha256 is checked.

    Only the weights ship (a ``.weights.h5`` file), so the model loads on every Keras 3
    version the package supports; a whole ``.keras`` file from a newer Keras does not.
    """
    from vitcourse.presets import build_model

    record = trained_record(name)
    path = HERE / record["file"]
    digest = file_digest(path, "sha256")
    if digest != record["sha256"]:
        raise ChecksumError(
            f"{path} has sha256 {digest}, but {name}.json records {record['sha256']}: the file is "
            "damaged or was replaced. Reinstall the package (or rerun `python -m benchmarks.ship_model`)."
        )
    model = build_model(record["preset"], **record["overrides"])
    model.load_weights(path)
    return model
