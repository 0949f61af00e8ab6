"""Generated stand-ins: images with learnable class patterns, and tarballs in the official CIFAR format."""

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from vitcourse.data.cifar import (
    CIFAR10_DIR,
    CIFAR10_LABELS,
    CIFAR100_COARSE_LABELS,
    CIFAR100_DIR,
    CIFAR100_FINE_LABELS,
    CIFAR100_FINE_TO_COARSE,
    check_cifar_args,
    images_to_rows,
    md5_of,
)
from vitcourse.data.dataset import ImageDataset, flat_labels


def _balanced_labels(n, num_classes, rng):
    # Every class the same number of times (up to one), in random order.
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def synthetic_images(labels, image_size=32, seed=0):
    """Generated uint8 RGB images ``(N, image_size, image_size, 3)``, one pattern per class.

    Class ``c`` has its own colour, stripe angle and frequency, and bright blob
    position; each image adds a random stripe phase, blob jitter, brightness and
    pixel noise. A small model learns the classes in a few steps.
    """
    labels = flat_labels(labels)
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
    check_cifar_args(name, label_mode)
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


def write_cifar_tarball(path, name="cifar10", n_train=100, n_test=20, seed=0):
    """Write a tarball in the official CIFAR python format, filled with generated images.

    Same layout, member names and pickle keys as the official file, so the real
    reading code can be tested offline. Returns the file's md5.
    """
    check_cifar_args(name, "fine")
    rng = np.random.default_rng(seed)
    num_classes = 10 if name == "cifar10" else 100
    y_train = _balanced_labels(n_train, num_classes, rng)
    y_test = _balanced_labels(n_test, num_classes, rng)
    x_train = synthetic_images(y_train, seed=seed)
    x_test = synthetic_images(y_test, seed=seed + 1)

    def as_bytes(names):
        return [n.encode() for n in names]

    def make_batch(label, x, y, key="labels"):
        content = {b"batch_label": label.encode(), key.encode(): y.tolist(), b"data": images_to_rows(x)}
        if name == "cifar100":
            content[b"coarse_labels"] = CIFAR100_FINE_TO_COARSE[y].tolist()
        content[b"filenames"] = [f"synthetic_{i:05d}.png".encode() for i in range(len(y))]
        return content

    if name == "cifar10":
        parts = np.array_split(np.arange(n_train), 5)  # the official file has 5 training batches
        members = {
            f"{CIFAR10_DIR}/data_batch_{i + 1}": make_batch(
                f"training batch {i + 1} of 5", x_train[idx], y_train[idx]
            )
            for i, idx in enumerate(parts)
        }
        members[f"{CIFAR10_DIR}/test_batch"] = make_batch("testing batch 1 of 1", x_test, y_test)
        members[f"{CIFAR10_DIR}/batches.meta"] = {
            b"num_cases_per_batch": len(parts[0]),
            b"label_names": as_bytes(CIFAR10_LABELS),
            b"num_vis": 3072,
        }
    else:
        members = {
            f"{CIFAR100_DIR}/train": make_batch("training batch 1 of 1", x_train, y_train, "fine_labels"),
            f"{CIFAR100_DIR}/test": make_batch("testing batch 1 of 1", x_test, y_test, "fine_labels"),
            f"{CIFAR100_DIR}/meta": {
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
