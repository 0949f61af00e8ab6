"""The container every loader returns, the errors they raise, and label checks, subsets and splits."""

import hashlib
from dataclasses import dataclass

import numpy as np


class ChecksumError(ValueError):
    """A data file's checksum is not the expected one (corrupted, half-written or tampered)."""


class DataUnavailableError(RuntimeError):
    """The data could not be obtained here (e.g. no internet to download it)."""


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
    y = flat_labels(y)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        n_bad = int(np.sum((y < 0) | (y >= num_classes)))
        raise ValueError(
            f"{n_bad} of {len(y)} labels are outside [0, {num_classes}) "
            f"(min {y.min()}, max {y.max()}). Labels must be class indices 0..{num_classes - 1}: "
            "check that the labels belong to this dataset (fine vs coarse CIFAR-100 labels?) "
            "or remap them to 0..num_classes-1."
        )
    return y


def flat_labels(y):
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


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stratified_subset(x, y, n, seed=0):
    """``n`` images, as equally many per class as the data allows; deterministic.

    Returns ``(x_subset, y_subset)`` in a seeded random order.
    """
    y = flat_labels(y)
    check_same_length(x, y)
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
    y = flat_labels(y)
    check_same_length(x, y)
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


def check_same_length(x, y):
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels: pass one label per image.")
