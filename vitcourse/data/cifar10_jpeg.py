"""The JPEG copy of the CIFAR-10 training set in shared/data: checked, extracted safely, split."""

import math
import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from vitcourse.data.cifar import CIFAR10_LABELS
from vitcourse.data.dataset import ChecksumError, ImageDataset, file_digest, stratified_split, stratified_subset
from vitcourse.data.folders import load_image_folder


CIFAR10_JPEG_SHA256 = "a1849c218033f6029e3ad4a66a93dbfffa0cc54a0f019960c0563c74386ff3fc"
# The repository root's sibling: /work/main/vitcourse/data/cifar10_jpeg.py -> /work/shared/data/...
_CIFAR10_JPEG_DEFAULT = Path(__file__).resolve().parents[3] / "shared/data/cifar10-train-jpeg.tar.gz"
# dest/.complete holds the sha256 of the tarball that dest/train came from; while it
# exists, dest/train is ours to replace.
_MARKER = ".complete"


def extract_cifar10_jpeg(tarball=None, dest=None, sha256=CIFAR10_JPEG_SHA256):
    """Unpack the JPEG copy of the CIFAR-10 training set once; return its ``train/`` folder.

    ``tarball`` defaults to ``$VITCOURSE_CIFAR10_JPEG`` or ``shared/data`` next to the
    repository; ``dest`` to ``~/.cache/vitcourse/cifar10-jpeg``. The sha256 is checked
    and every member of the tarball is checked (no absolute paths, no ``..``, no links
    out of ``dest``, no devices) before anything is extracted. ``dest/.complete``
    records a finished extraction; a ``dest/train`` without it was not written here and
    is never deleted.
    """
    tarball = Path(tarball or os.environ.get("VITCOURSE_CIFAR10_JPEG") or _CIFAR10_JPEG_DEFAULT)
    dest = Path(dest or Path.home() / ".cache/vitcourse/cifar10-jpeg").expanduser()
    train_dir, marker = dest / "train", dest / _MARKER
    if marker.is_file() and marker.read_text().strip() == sha256 and train_dir.is_dir():
        return train_dir
    if train_dir.exists() and not marker.is_file():
        raise FileExistsError(
            f"{train_dir} already exists and was not extracted by extract_cifar10_jpeg "
            f"(there is no {marker}), so it is left alone. Pass another dest, or move "
            f"{train_dir} away yourself."
        )

    if not tarball.is_file():
        raise FileNotFoundError(
            f"No CIFAR-10 JPEG tarball at {tarball}. Set VITCOURSE_CIFAR10_JPEG to the path of "
            "cifar10-train-jpeg.tar.gz (see shared/data/README.md), or use load_dataset('cifar10') "
            "for the official files."
        )
    got = file_digest(tarball, "sha256")
    if got != sha256:
        raise ChecksumError(
            f"{tarball} is corrupted, half-written or tampered with: its sha256 is {got}, "
            f"expected {sha256}. Replace it with an intact copy."
        )
    dest.mkdir(parents=True, exist_ok=True)
    # Extract beside dest/train and move it into place when complete, so an
    # interrupted run never leaves a half-filled train/ that looks finished.
    with tempfile.TemporaryDirectory(dir=dest, prefix=".extracting-") as scratch:
        with tarfile.open(tarball, "r:gz") as tar:
            members = safe_members(tar, tarball)
            if hasattr(tarfile, "data_filter"):  # Python 3.12, 3.11.4, 3.10.12 and later
                tar.extractall(scratch, members=members, filter="data")
            else:
                tar.extractall(scratch, members=members)
        if not (Path(scratch) / "train").is_dir():
            raise ValueError(f"{tarball} has no train/ folder: it is not the CIFAR-10 JPEG copy.")
        marker.write_text("extracting")  # from here on, dest/train is ours
        if train_dir.exists():
            shutil.rmtree(train_dir)  # ours: from another tarball or an interrupted run
        (Path(scratch) / "train").rename(train_dir)
    marker.write_text(sha256)
    return train_dir


def safe_members(tar, tarball):
    """The members of ``tar``, after checking that none can write outside the folder it goes to.

    Refuses absolute paths, ``..``, links whose target is absolute or goes up, and
    device or FIFO files, on every Python (older ones have no ``filter="data"``).
    """
    members = tar.getmembers()
    for member in members:
        problem = None
        if _escapes(member.name):
            problem = "its path is absolute or goes up with '..'"
        elif member.issym() or member.islnk():
            if _escapes(member.linkname):
                problem = f"it links to {member.linkname!r}, outside the folder"
        elif not (member.isfile() or member.isdir()):
            problem = "it is a device or FIFO, not a file or folder"
        if problem:
            raise ValueError(
                f"{tarball} holds an unsafe member {member.name!r}: {problem}. Nothing was "
                "extracted. Replace the tarball with an intact copy of the CIFAR-10 JPEG copy."
            )
    return members


def _escapes(name):
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or PureWindowsPath(name).drive != ""


def load_cifar10_jpeg(val_fraction=0.1, seed=0, limit=None, tarball=None, dest=None):
    """The JPEG copy of CIFAR-10's 50,000 training images, split train/validation.

    The split is seeded and stratified (45,000/5,000 by default); ``x_test`` and
    ``y_test`` hold the validation split, as the copy has no test set. ``limit``
    reads only that many images (the first ones of each class, in file order).
    The JPEGs are lossy: report results as "CIFAR-10 (JPEG copy)".
    """
    train_dir = extract_cifar10_jpeg(tarball, dest)
    per_class = None if limit is None else math.ceil(limit / len(CIFAR10_LABELS))
    x, y, _ = load_image_folder(train_dir, class_names=CIFAR10_LABELS, limit_per_class=per_class)
    if limit is not None and limit < len(y):
        x, y = stratified_subset(x, y, limit, seed)
    x_train, y_train, x_val, y_val = stratified_split(x, y, val_fraction, seed)
    return ImageDataset(x_train, y_train, x_val, y_val, CIFAR10_LABELS, "cifar10_jpeg")
