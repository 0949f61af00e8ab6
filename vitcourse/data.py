"""Datasets for the course: CIFAR-10/100, offline stand-ins, and input pipelines.

Every loader returns an :class:`ImageDataset`: uint8 images ``(N, H, W, C)`` and
flat int64 labels ``(N,)``. Models take float32 pixels in [0, 255] and rescale
inside themselves, so the data stays small (uint8) until a batch is made.

Where the data comes from (:func:`load_dataset` is the one entry point):

- ``cifar10`` / ``cifar100`` / ``cifar100_coarse``: the official tarballs,
  md5-checked before anything in them is unpickled. Read from
  ``$VITCOURSE_DATA_DIR`` if set, otherwise downloaded once into ``~/.keras``.
- ``cifar10_jpeg``: the JPEG copy of the CIFAR-10 training set in
  ``shared/data`` (sha256-checked), with a seeded, stratified validation split.
- ``digits``: scikit-learn's 8x8 digits, real data that ships with a package.
- ``synthetic10`` / ``synthetic100``: generated images with learnable
  class patterns; smoke mode uses them in place of CIFAR, and says so.

Input pipelines: :func:`make_tf_dataset` (tf.data, TensorFlow installed) and
:class:`ArrayDataset` (a ``keras.utils.PyDataset``, any backend, used on the
JAX GPU machine that has no TensorFlow).
"""

import gzip
import hashlib
import io
import math
import os
import pickle
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vitcourse.config import run_mode, run_size

# ---------------------------------------------------------------------------
# Label names, in the official index order of the datasets' meta files.

CIFAR10_LABELS = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

CIFAR100_FINE_LABELS = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle",
    "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
    "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
    "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
    "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea",
    "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip",
    "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]  # fmt: skip

CIFAR100_COARSE_LABELS = [
    "aquatic_mammals", "fish", "flowers", "food_containers",
    "fruit_and_vegetables", "household_electrical_devices",
    "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals",
    "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
]  # fmt: skip

# The five fine classes of each superclass, as listed on the CIFAR page.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ["beaver", "dolphin", "otter", "seal", "whale"],
    "fish": ["aquarium_fish", "flatfish", "ray", "shark", "trout"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
    "food_containers": ["bottle", "bowl", "can", "cup", "plate"],
    "fruit_and_vegetables": ["apple", "mushroom", "orange", "pear", "sweet_pepper"],
    "household_electrical_devices": ["clock", "keyboard", "lamp", "telephone", "television"],
    "household_furniture": ["bed", "chair", "couch", "table", "wardrobe"],
    "insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach"],
    "large_carnivores": ["bear", "leopard", "lion", "tiger", "wolf"],
    "large_man-made_outdoor_things": ["bridge", "castle", "house", "road", "skyscraper"],
    "large_natural_outdoor_scenes": ["cloud", "forest", "mountain", "plain", "sea"],
    "large_omnivores_and_herbivores": ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"],
    "medium_mammals": ["fox", "porcupine", "possum", "raccoon", "skunk"],
    "non-insect_invertebrates": ["crab", "lobster", "snail", "spider", "worm"],
    "people": ["baby", "boy", "girl", "man", "woman"],
    "reptiles": ["crocodile", "dinosaur", "lizard", "snake", "turtle"],
    "small_mammals": ["hamster", "mouse", "rabbit", "shrew", "squirrel"],
    "trees": ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"],
    "vehicles_1": ["bicycle", "bus", "motorcycle", "pickup_truck", "train"],
    "vehicles_2": ["lawn_mower", "rocket", "streetcar", "tank", "tractor"],
}

# CIFAR100_FINE_TO_COARSE[fine_label] is the coarse label of that fine class.
CIFAR100_FINE_TO_COARSE = np.array(
    [
        CIFAR100_COARSE_LABELS.index(coarse)
        for fine in CIFAR100_FINE_LABELS
        for coarse, members in CIFAR100_SUPERCLASSES.items()
        if fine in members
    ],
    dtype=np.int64,
)

# ---------------------------------------------------------------------------
# Errors that tell the reader what to do.


class ChecksumError(ValueError):
    """A data file's checksum is not the expected one (corrupted, half-written or tampered)."""


class DataUnavailableError(RuntimeError):
    """The data could not be obtained here (e.g. no internet to download it)."""


# ---------------------------------------------------------------------------
# The dataset container.


@dataclass(repr=False)
class ImageDataset:
    """Train and test images with their labels.

    Images are uint8 ``(N, H, W, C)``; labels are int64 ``(N,)`` class indices
    into ``label_names`` (a ``(N, 1)`` label array is flattened on creation).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    label_names: list
    name: str

    def __post_init__(self):
        self.label_names = [str(n) for n in self.label_names]
        for split in ("train", "test"):
            x = np.asarray(getattr(self, f"x_{split}"))
            if x.dtype != np.uint8 or x.ndim != 4:
                raise ValueError(
                    f"{self.name}: x_{split} must be uint8 images of shape (N, H, W, C); "
                    f"got {x.dtype} {x.shape}. Convert with np.clip(x, 0, 255).astype('uint8') "
                    "and add a channel axis (x[..., None]) for grey images."
                )
            y = check_labels(getattr(self, f"y_{split}"), self.num_classes)
            if len(x) != len(y):
                raise ValueError(
                    f"{self.name}: {len(x)} {split} images but {len(y)} labels; "
                    "pass one label per image."
                )
            setattr(self, f"x_{split}", x)
            setattr(self, f"y_{split}", y)

    @property
    def num_classes(self):
        return len(self.label_names)

    @property
    def image_shape(self):
        """``(H, W, C)`` of one image."""
        return tuple(self.x_train.shape[1:])

    def summary(self):
        """One line: name, shapes and classes."""
        names = ", ".join(self.label_names[:5]) + (", ..." if self.num_classes > 5 else "")
        return (
            f"{self.name}: train {self.x_train.shape}, test {self.x_test.shape}, "
            f"{self.x_train.dtype}; {self.num_classes} classes ({names})"
        )

    def __repr__(self):
        return f"ImageDataset({self.summary()})"


def check_labels(y, num_classes):
    """Return ``y`` as flat int64 class indices, or raise if they cannot be labels.

    Accepts shape ``(N,)`` or ``(N, 1)`` (what ``keras.datasets`` gives).
    """
    y = _flat_labels(y)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        n_bad = int(np.sum((y < 0) | (y >= num_classes)))
        raise ValueError(
            f"{n_bad} of {len(y)} labels are outside [0, {num_classes}) "
            f"(min {y.min()}, max {y.max()}). Labels must be class indices 0..{num_classes - 1}: "
            "check that the labels belong to this dataset (fine vs coarse CIFAR-100 labels?) "
            "or remap them to 0..num_classes-1."
        )
    return y


def _flat_labels(y):
    """``y`` as a flat int64 array; the shape and type checks of :func:`check_labels`."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"Labels must have shape (N,) or (N, 1); got {y.shape}. "
            "If they are one-hot, pass y.argmax(axis=-1)."
        )
    if not np.issubdtype(y.dtype, np.integer):
        is_whole = np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))
        if not is_whole:
            raise ValueError(
                f"Labels must be integer class indices; got dtype {y.dtype}. "
                "Pass class indices (e.g. y.argmax(axis=-1) for probabilities)."
            )
    return y.astype(np.int64)


# ---------------------------------------------------------------------------
# The official CIFAR tarballs.

CIFAR_ARCHIVES = {
    "cifar10": {
        "fname": "cifar-10-python.tar.gz",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
    },
    "cifar100": {
        "fname": "cifar-100-python.tar.gz",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "md5": "eb9058c3a382ffc7106e4002c42a8d85",
    },
}

_CIFAR10_DIR = "cifar-10-batches-py"
_CIFAR100_DIR = "cifar-100-python"


def md5_of(path):
    """The md5 hex digest of a file."""
    return _file_digest(path, "md5")


def _file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_cifar_args(name, label_mode):
    if name not in CIFAR_ARCHIVES:
        raise ValueError(f"Unknown CIFAR archive {name!r}: use 'cifar10' or 'cifar100'.")
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode={label_mode!r}: use 'fine' (100 classes) or 'coarse' (20).")
    if name == "cifar10" and label_mode != "fine":
        raise ValueError("CIFAR-10 has no coarse labels: use label_mode='fine' with 'cifar10'.")


def read_cifar_tarball(path, name, md5=None, label_mode="fine"):
    """Read an official CIFAR python tarball into an :class:`ImageDataset`.

    The file's md5 is checked (default: the official one) before anything in it
    is unpickled, so a corrupted, half-written or tampered file is never loaded.
    ``label_mode`` picks CIFAR-100's 100 fine or 20 coarse classes.
    """
    _check_cifar_args(name, label_mode)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No CIFAR tarball at {path}. Put {CIFAR_ARCHIVES[name]['fname']} there "
            f"(download it from {CIFAR_ARCHIVES[name]['url']})."
        )
    expected = md5 or CIFAR_ARCHIVES[name]["md5"]
    got = md5_of(path)
    if got != expected:
        # Unpickling runs code from the file, so an unverified file is never opened.
        raise ChecksumError(
            f"{path} is corrupted, half-written or tampered with: its md5 is {got}, "
            f"expected {expected}. Delete it and download it again "
            f"({CIFAR_ARCHIVES[name]['url']}), or point VITCOURSE_DATA_DIR at a folder "
            f"holding an intact copy of {CIFAR_ARCHIVES[name]['fname']}."
        )
    with tarfile.open(path, "r:gz") as tar:
        if name == "cifar10":
            train = [_unpickle(tar, f"{_CIFAR10_DIR}/data_batch_{i}", path) for i in range(1, 6)]
            test = _unpickle(tar, f"{_CIFAR10_DIR}/test_batch", path)
            meta = _unpickle(tar, f"{_CIFAR10_DIR}/batches.meta", path, required=False)
            label_key, names_key, default_names = b"labels", b"label_names", CIFAR10_LABELS
        else:
            train = [_unpickle(tar, f"{_CIFAR100_DIR}/train", path)]
            test = _unpickle(tar, f"{_CIFAR100_DIR}/test", path)
            meta = _unpickle(tar, f"{_CIFAR100_DIR}/meta", path, required=False)
            label_key = f"{label_mode}_labels".encode()
            names_key = f"{label_mode}_label_names".encode()
            default_names = CIFAR100_FINE_LABELS if label_mode == "fine" else CIFAR100_COARSE_LABELS
    if meta is not None and names_key in meta:
        label_names = [n.decode() for n in meta[names_key]]
    else:
        label_names = list(default_names)
    return ImageDataset(
        x_train=np.concatenate([_rows_to_images(b[b"data"]) for b in train]),
        y_train=np.concatenate([np.asarray(b[label_key], np.int64) for b in train]),
        x_test=_rows_to_images(test[b"data"]),
        y_test=np.asarray(test[label_key], np.int64),
        label_names=label_names,
        name=name if label_mode == "fine" else f"{name}_coarse",
    )


def _unpickle(tar, member, path, required=True):
    try:
        f = tar.extractfile(member)
    except KeyError:
        f = None
    if f is None:
        if not required:
            return None
        raise ValueError(
            f"{path} has no member {member!r}, so it is not an official CIFAR python "
            "archive. Use the '*-python.tar.gz' file from https://www.cs.toronto.edu/~kriz/cifar.html."
        )
    with f:
        # The official pickles were written by Python 2: keys and names are bytes.
        return pickle.load(f, encoding="bytes")


def _rows_to_images(rows):
    # (N, 3072) rows hold the R, G and B planes one after the other:
    # (N, 3072) -> (N, 3, 32, 32) -> (N, 32, 32, 3)
    rows = np.asarray(rows, dtype=np.uint8)
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def _images_to_rows(images):
    # (N, 32, 32, 3) -> (N, 3, 32, 32) -> (N, 3072), the inverse of _rows_to_images
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), -1)


def load_cifar(name="cifar10", label_mode="fine"):
    """Load the official CIFAR-10 or CIFAR-100 data.

    Reads ``$VITCOURSE_DATA_DIR/<official file name>`` if that variable is set,
    otherwise downloads the tarball once into ``~/.keras/datasets``. Never falls
    back to other data: without the file and without internet it raises
    :class:`DataUnavailableError`.
    """
    _check_cifar_args(name, label_mode)
    archive = CIFAR_ARCHIVES[name]
    data_dir = os.environ.get("VITCOURSE_DATA_DIR")
    if data_dir:
        path = Path(data_dir).expanduser() / archive["fname"]
        if not path.is_file():
            raise FileNotFoundError(
                f"VITCOURSE_DATA_DIR is set, but {path} does not exist. Put the official "
                f"{archive['fname']} (from {archive['url']}) in {path.parent}, "
                "or unset VITCOURSE_DATA_DIR to download it."
            )
    else:
        try:
            path = keras.utils.get_file(
                archive["fname"],
                origin=archive["url"],
                file_hash=archive["md5"],
                cache_subdir="datasets",
            )
        except Exception as err:
            raise DataUnavailableError(
                f"Downloading {archive['fname']} from {archive['url']} failed "
                f"({type(err).__name__}: {err}). To fix: run where the internet is reachable "
                f"(e.g. Colab); or download {archive['fname']} elsewhere, copy it into a folder "
                "and set VITCOURSE_DATA_DIR to that folder; or set VITCOURSE_MODE=smoke to "
                "use generated stand-in data (not CIFAR)."
            ) from err
    return read_cifar_tarball(path, name, label_mode=label_mode)


def write_cifar_tarball(path, name="cifar10", n_train=100, n_test=20, seed=0):
    """Write a tarball in the official CIFAR python format, filled with generated images.

    Same layout, member names and pickle keys as the official file, so the real
    reading code can be tested offline. Returns the file's md5.
    """
    _check_cifar_args(name, "fine")
    rng = np.random.default_rng(seed)
    num_classes = 10 if name == "cifar10" else 100
    y_train = _balanced_labels(n_train, num_classes, rng)
    y_test = _balanced_labels(n_test, num_classes, rng)
    x_train = synthetic_images(y_train, seed=seed)
    x_test = synthetic_images(y_test, seed=seed + 1)

    def as_bytes(names):
        return [n.encode() for n in names]

    def make_batch(label, x, y, key="labels"):
        content = {b"batch_label": label.encode(), key.encode(): y.tolist(), b"data": _images_to_rows(x)}
        if name == "cifar100":
            content[b"coarse_labels"] = CIFAR100_FINE_TO_COARSE[y].tolist()
        content[b"filenames"] = [f"synthetic_{i:05d}.png".encode() for i in range(len(y))]
        return content

    if name == "cifar10":
        parts = np.array_split(np.arange(n_train), 5)  # the official file has 5 training batches
        members = {
            f"{_CIFAR10_DIR}/data_batch_{i + 1}": make_batch(
                f"training batch {i + 1} of 5", x_train[idx], y_train[idx]
            )
            for i, idx in enumerate(parts)
        }
        members[f"{_CIFAR10_DIR}/test_batch"] = make_batch("testing batch 1 of 1", x_test, y_test)
        members[f"{_CIFAR10_DIR}/batches.meta"] = {
            b"num_cases_per_batch": len(parts[0]),
            b"label_names": as_bytes(CIFAR10_LABELS),
            b"num_vis": 3072,
        }
    else:
        members = {
            f"{_CIFAR100_DIR}/train": make_batch("training batch 1 of 1", x_train, y_train, "fine_labels"),
            f"{_CIFAR100_DIR}/test": make_batch("testing batch 1 of 1", x_test, y_test, "fine_labels"),
            f"{_CIFAR100_DIR}/meta": {
                b"fine_label_names": as_bytes(CIFAR100_FINE_LABELS),
                b"coarse_label_names": as_bytes(CIFAR100_COARSE_LABELS),
            },
        }

    path = Path(path)
    partial = path.with_name(path.name + ".part")
    # No time stamps and no file name in the gzip header: the same arguments give
    # the same bytes, hence the same md5.
    with (
        open(partial, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        folder = tarfile.TarInfo(next(iter(members)).split("/")[0])
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for member, content in members.items():
            blob = pickle.dumps(content, protocol=2)  # protocol 2: what Python 2 wrote
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(blob), 0o644
            tar.addfile(info, io.BytesIO(blob))
    os.replace(partial, path)  # a crash mid-write leaves only the .part file behind
    return md5_of(path)


# ---------------------------------------------------------------------------
# Generated stand-in data.


def _balanced_labels(n, num_classes, rng):
    # Every class the same number of times (up to one), in random order.
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def synthetic_images(labels, image_size=32, seed=0):
    """Generated uint8 RGB images ``(N, image_size, image_size, 3)``, one pattern per class.

    Class ``c`` has its own colour, stripe angle and frequency, and bright blob
    position; each image adds a random stripe phase, blob jitter, brightness and
    pixel noise. A small model learns the classes in a few steps.
    """
    labels = _flat_labels(labels)
    rng = np.random.default_rng(seed)
    images = np.empty((len(labels), image_size, image_size, 3), np.uint8)
    for start in range(0, len(labels), 2048):  # chunks keep the float temporaries small
        c = labels[start : start + 2048].astype(np.float32)
        images[start : start + len(c)] = _pattern(c, image_size, rng)
    return images


def _pattern(c, size, rng):
    n = len(c)
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = coords[None, :, None], coords[None, None, :]  # (1, S, 1), (1, 1, S)
    # Class features. 8 angles x 9 blob positions x 4 frequencies never repeat
    # within 100 classes, and the hue (golden-ratio steps) differs for each class.
    angle = np.pi * (c % 8) / 8
    freq = 2 + (c // 8) % 4
    hue = (c * 0.618034) % 1
    colour = 0.5 + 0.45 * np.cos(2 * np.pi * (hue[:, None] + np.array([0, 1 / 3, 2 / 3])))
    blob_y = ((c % 9) // 3 + 0.5) / 3
    blob_x = ((c % 9) % 3 + 0.5) / 3
    # Per-image variation.
    phase = rng.uniform(0, 2 * np.pi, n)
    blob_y = blob_y + rng.uniform(-1 / 16, 1 / 16, n)
    blob_x = blob_x + rng.uniform(-1 / 16, 1 / 16, n)
    brightness = rng.uniform(0.75, 1.0, n)

    def per_image(v):
        return v.astype(np.float32)[:, None, None]  # (N,) -> (N, 1, 1)

    along = xx * per_image(np.cos(angle)) + yy * per_image(np.sin(angle))
    stripes = np.sin(2 * np.pi * per_image(freq) * along + per_image(phase))  # (N, S, S)
    blob = np.exp(-((yy - per_image(blob_y)) ** 2 + (xx - per_image(blob_x)) ** 2) / (2 * 0.1**2))
    image = colour.astype(np.float32)[:, None, None, :] * (0.55 + 0.3 * stripes)[..., None]
    image = image + 0.5 * blob[..., None]
    image = image * per_image(brightness)[..., None]
    image = image + rng.normal(0, 0.08, image.shape).astype(np.float32)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def synthetic_cifar(name="cifar10", n_train=256, n_test=128, image_size=32, seed=0, label_mode="fine"):
    """Generated stand-in for CIFAR-10/100: the real label names, learnable class patterns.

    Deterministic given ``seed``. With ``name="cifar100", label_mode="coarse"``
    the images come from the 100 fine patterns and carry their superclass
    labels, as in the real data.
    """
    _check_cifar_args(name, label_mode)
    rng = np.random.default_rng(seed)
    num_classes = 10 if name == "cifar10" else 100
    y_train = _balanced_labels(n_train, num_classes, rng)
    y_test = _balanced_labels(n_test, num_classes, rng)
    x_train = synthetic_images(y_train, image_size, seed=seed + 1)
    x_test = synthetic_images(y_test, image_size, seed=seed + 2)
    label_names = CIFAR10_LABELS if name == "cifar10" else CIFAR100_FINE_LABELS
    if label_mode == "coarse":
        y_train, y_test = CIFAR100_FINE_TO_COARSE[y_train], CIFAR100_FINE_TO_COARSE[y_test]
        label_names = CIFAR100_COARSE_LABELS
    suffix = "_coarse" if label_mode == "coarse" else ""
    return ImageDataset(x_train, y_train, x_test, y_test, label_names, f"synthetic_{name}{suffix}")


# ---------------------------------------------------------------------------
# Other real data that works offline.


def load_digits_dataset(image_size=16, test_fraction=0.25, seed=0, channels=3):
    """scikit-learn's 1,797 handwritten digits (8x8) as an :class:`ImageDataset`.

    Pixels 0..16 become 0..255 and are enlarged to ``image_size`` by repeating
    each pixel; ``channels=3`` repeats the grey channel so RGB models work.
    The train/test split is seeded and stratified.
    """
    from sklearn.datasets import load_digits

    if image_size % 8:
        raise ValueError(f"image_size={image_size}: use a multiple of 8 (8, 16, 32, ...).")
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: use 1 (grey) or 3 (grey repeated as RGB).")
    digits = load_digits()
    x = np.round(digits.images * (255 / 16)).astype(np.uint8)  # (N, 8, 8), 0..255
    scale = image_size // 8
    x = x.repeat(scale, axis=1).repeat(scale, axis=2)  # (N, 8, 8) -> (N, S, S)
    x = np.repeat(x[..., None], channels, axis=-1)  # (N, S, S) -> (N, S, S, C)
    x_train, y_train, x_test, y_test = stratified_split(x, digits.target, test_fraction, seed)
    return ImageDataset(x_train, y_train, x_test, y_test, [str(d) for d in range(10)], "digits")


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image_folder(path, image_size=None, class_names=None, limit_per_class=None):
    """Read a folder of class sub-folders (``path/<class>/<image>``) with Pillow.

    Returns ``(x, y, class_names)``: uint8 RGB images ``(N, H, W, 3)``, int64
    labels, and the class names (sorted folder names unless given). Files are read
    in sorted order, so the result is deterministic. ``image_size`` (an int or
    ``(height, width)``) resizes every image; without it all must be one size.
    """
    from PIL import Image

    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(
            f"Image folder {root} does not exist. Pass the path of a folder with one "
            "sub-folder of images per class, e.g. <folder>/cat/1.jpg, <folder>/dog/2.jpg."
        )
    if class_names is None:
        class_names = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not class_names:
            raise ValueError(
                f"{root} has no class sub-folders. Put the images of each class in their "
                "own sub-folder: <folder>/<class name>/<image>."
            )
    class_names = list(class_names)

    files, labels = [], []
    for label, class_name in enumerate(class_names):
        class_dir = root / class_name
        if not class_dir.is_dir():
            raise FileNotFoundError(f"No folder {class_dir} for class {class_name!r}: check class_names.")
        paths = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise ValueError(
                f"{class_dir} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)}). "
                "Add images or remove the folder."
            )
        paths = paths[:limit_per_class] if limit_per_class else paths
        files += paths
        labels += [label] * len(paths)

    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    # A plain loop: tiny JPEGs decode at ~7,000 a second, and threads were slower here.
    first = _read_image(files[0], image_size, Image)
    x = np.empty((len(files), *first.shape), np.uint8)
    for i, file in enumerate(files):
        image = first if i == 0 else _read_image(file, image_size, Image)
        if image.shape != first.shape:
            raise ValueError(
                f"{file} is {image.shape[:2]} but {files[0]} is {first.shape[:2]}: "
                "pass image_size=(height, width) to resize them all to one size."
            )
        x[i] = image
    return x, np.asarray(labels, np.int64), class_names


def _read_image(file, image_size, Image):
    try:
        with Image.open(file) as image:
            image = image.convert("RGB")
            if image_size is not None:
                height, width = image_size
                image = image.resize((width, height), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError) as err:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(
            f"Could not read image {file} ({type(err).__name__}: {err}). "
            "Delete or replace that file."
        ) from err


CIFAR10_JPEG_SHA256 = "a1849c218033f6029e3ad4a66a93dbfffa0cc54a0f019960c0563c74386ff3fc"
# The repository root's sibling: /work/main/vitcourse/data.py -> /work/shared/data/...
_CIFAR10_JPEG_DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/cifar10-train-jpeg.tar.gz"


def extract_cifar10_jpeg(tarball=None, dest=None, sha256=CIFAR10_JPEG_SHA256):
    """Unpack the JPEG copy of the CIFAR-10 training set once; return its ``train/`` folder.

    ``tarball`` defaults to ``$VITCOURSE_CIFAR10_JPEG`` or ``shared/data`` next to the
    repository; ``dest`` (a cache folder this function owns) to
    ``~/.cache/vitcourse/cifar10-jpeg``. The sha256 is checked before extracting,
    and a marker written after a complete extraction, so an interrupted one is redone.
    """
    tarball = Path(tarball or os.environ.get("VITCOURSE_CIFAR10_JPEG") or _CIFAR10_JPEG_DEFAULT)
    dest = Path(dest or Path.home() / ".cache/vitcourse/cifar10-jpeg").expanduser()
    train_dir, marker = dest / "train", dest / ".complete"
    if marker.is_file() and marker.read_text().strip() == sha256 and train_dir.is_dir():
        return train_dir

    if not tarball.is_file():
        raise FileNotFoundError(
            f"No CIFAR-10 JPEG tarball at {tarball}. Set VITCOURSE_CIFAR10_JPEG to the path of "
            "cifar10-train-jpeg.tar.gz (see shared/data/README.md), or use load_dataset('cifar10') "
            "for the official files."
        )
    got = _file_digest(tarball, "sha256")
    if got != sha256:
        raise ChecksumError(
            f"{tarball} is corrupted, half-written or tampered with: its sha256 is {got}, "
            f"expected {sha256}. Replace it with an intact copy."
        )
    marker.unlink(missing_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    # Extract beside dest/train and move it into place when complete, so an
    # interrupted run never leaves a half-filled train/ that looks finished.
    with tempfile.TemporaryDirectory(dir=dest, prefix=".extracting-") as scratch:
        with tarfile.open(tarball, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):  # refuses absolute paths and links out of dest
                tar.extractall(scratch, filter="data")
            else:
                tar.extractall(scratch)
        if not (Path(scratch) / "train").is_dir():
            raise ValueError(f"{tarball} has no train/ folder: it is not the CIFAR-10 JPEG copy.")
        if train_dir.exists():
            shutil.rmtree(train_dir)  # left by a run that stopped before writing the marker
        (Path(scratch) / "train").rename(train_dir)
    marker.write_text(sha256)
    return train_dir


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


# ---------------------------------------------------------------------------
# Subsets and splits.


def stratified_subset(x, y, n, seed=0):
    """``n`` images, as equally many per class as the data allows; deterministic.

    Returns ``(x_subset, y_subset)`` in a seeded random order.
    """
    y = _flat_labels(y)
    _check_same_length(x, y)
    if not 0 < n <= len(y):
        raise ValueError(f"Cannot take {n} images out of {len(y)}: ask for 1 to {len(y)}.")
    rng = np.random.default_rng(seed)
    classes, class_index = np.unique(y, return_inverse=True)
    # Rank each image within its class in a random order; taking images by
    # increasing rank gives every class its k-th image before any gets a (k+1)-th.
    rank = np.empty(len(y), np.int64)
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(class_index == c))
        rank[members] = np.arange(len(members))
    class_priority = rng.permutation(len(classes))  # which classes get the leftover images
    order = np.lexsort((class_priority[class_index], rank))
    chosen = rng.permutation(order[:n])
    return x[chosen], y[chosen]


def stratified_split(x, y, val_fraction, seed=0):
    """Split into train and validation keeping each class's share; deterministic.

    Returns ``(x_train, y_train, x_val, y_val)``, each in a seeded random order.
    """
    y = _flat_labels(y)
    _check_same_length(x, y)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction}: use a fraction between 0 and 1, e.g. 0.1.")
    n_val = int(round(len(y) * val_fraction))
    if not 0 < n_val < len(y):
        raise ValueError(
            f"val_fraction={val_fraction} of {len(y)} images leaves an empty split: "
            "use more images or a fraction nearer 0.5."
        )
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    # Each class gives its share of n_val, rounded so that the shares add up to n_val.
    share = counts * (n_val / len(y))
    take = np.floor(share).astype(np.int64)
    leftover = np.argsort(-(share - take), kind="stable")[: n_val - take.sum()]
    take[leftover] += 1
    is_val = np.zeros(len(y), bool)
    for c, k in zip(classes, take):
        is_val[rng.permutation(np.flatnonzero(y == c))[:k]] = True
    train = rng.permutation(np.flatnonzero(~is_val))
    val = rng.permutation(np.flatnonzero(is_val))
    return x[train], y[train], x[val], y[val]


def _check_same_length(x, y):
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels: pass one label per image.")


# ---------------------------------------------------------------------------
# The one dispatcher.

DATASET_NAMES = (
    "cifar10", "cifar100", "cifar100_coarse", "cifar10_jpeg",
    "digits", "synthetic10", "synthetic100",
)  # fmt: skip

_FULL_SYNTHETIC_SIZE = (50_000, 10_000)  # as big as CIFAR


def load_dataset(name, mode=None, seed=0):
    """Load a dataset by name, sized for the run mode (default: ``VITCOURSE_MODE``).

    - smoke: the CIFAR names give generated stand-in data of the same shapes and
      label names (printed, so the reader knows); other names a small subset.
    - quick: a stratified subset of the real data (``run_size("quick")``).
    - full: everything.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASET_NAMES)}.")
    mode = mode or run_mode()
    size = run_size(mode)
    cifar_name = "cifar100" if name.startswith("cifar100") else "cifar10"
    label_mode = "coarse" if name == "cifar100_coarse" else "fine"

    if name.startswith("synthetic"):
        n_train, n_test = (size.train_images, size.test_images) if mode != "full" else _FULL_SYNTHETIC_SIZE
        base = "cifar10" if name == "synthetic10" else "cifar100"
        return synthetic_cifar(base, n_train, n_test, seed=seed)

    if mode == "smoke" and name != "digits":
        print(
            f"[vitcourse] smoke mode: {name!r} is replaced by generated stand-in data "
            f"({size.train_images} train / {size.test_images} test images, real label names). "
            "Set VITCOURSE_MODE=quick or full for the real images."
        )
        return synthetic_cifar(cifar_name, size.train_images, size.test_images, seed=seed, label_mode=label_mode)

    if name == "digits":
        dataset = load_digits_dataset(seed=seed)
    elif name == "cifar10_jpeg":
        if mode == "full":
            return load_cifar10_jpeg(seed=seed)
        # Read only the images the subset needs, and carve validation out of them.
        n = size.train_images + size.test_images
        return load_cifar10_jpeg(val_fraction=size.test_images / n, seed=seed, limit=n)
    else:
        dataset = load_cifar(cifar_name, label_mode)

    if mode != "full":
        n_train = min(size.train_images, len(dataset.y_train))
        n_test = min(size.test_images, len(dataset.y_test))
        dataset.x_train, dataset.y_train = stratified_subset(dataset.x_train, dataset.y_train, n_train, seed)
        dataset.x_test, dataset.y_test = stratified_subset(dataset.x_test, dataset.y_test, n_test, seed)
    return dataset


# ---------------------------------------------------------------------------
# Input pipelines.


def make_tf_dataset(x, y, batch_size, shuffle=False, augment=None, seed=0):
    """A ``tf.data.Dataset`` of ``(float32 images in [0, 255], int64 labels)`` batches.

    ``augment`` (a Keras layer or ``Sequential`` of preprocessing layers) runs on
    each batch with ``training=True``, after batching, in parallel with training.
    Needs TensorFlow; :class:`ArrayDataset` is the path without it.
    """
    import tensorflow as tf

    y = _flat_labels(y)
    _check_same_length(x, y)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    # Cast per batch, after batching: the dataset keeps the 4x smaller uint8 copy.
    dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32), labels))
    if augment is not None:
        # Build the layers eagerly, once: built inside a traced function, a layer's
        # constants (e.g. a fixed Normalization's mean) would belong to that graph.
        augment(np.zeros((1, *np.shape(x)[1:]), "float32"), training=False)
        if isinstance(augment, keras.Sequential):
            # A Sequential turns tf.data's tensors into backend tensors, which fails
            # under JAX; a Pipeline of the same layers stays in tf.data on every backend.
            augment = keras.layers.Pipeline(augment.layers)
        dataset = dataset.map(
            lambda images, labels: (augment(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


class ArrayDataset(keras.utils.PyDataset):
    """Batches ``(float32 images, int64 labels)`` from numpy arrays, on any backend.

    Shuffles once per epoch when ``shuffle`` (seeded, so runs repeat) and applies
    ``augment`` (a Keras layer) to each batch with ``training=True``. Extra keyword
    arguments (``workers``, ``use_multiprocessing``, ...) go to ``PyDataset``.

    Example:
        >>> data = ArrayDataset(x_train, y_train, batch_size=64, shuffle=True)
        >>> images, labels = data[0]  # (64, 32, 32, 3) float32, (64,) int64
        >>> model.fit(data, epochs=5)
    """

    def __init__(self, x, y, batch_size, shuffle=False, augment=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.y = _flat_labels(y)
        _check_same_length(x, self.y)
        self.x = np.asarray(x)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(self.y)) if shuffle else np.arange(len(self.y))

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} out of range: this dataset has {len(self)} batches.")
        batch = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[batch].astype(np.float32)
        if self.augment is not None:
            images = keras.ops.convert_to_numpy(self.augment(images, training=True))
        return images, self.y[batch]

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.y))
