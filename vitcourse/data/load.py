"""``load_dataset``: every dataset by name, sized for the run mode."""

import numpy as np

from vitcourse.config import run_mode, run_size
from vitcourse.data.cifar import load_cifar
from vitcourse.data.cifar10_jpeg import load_cifar10_jpeg
from vitcourse.data.dataset import stratified_subset
from vitcourse.data.digits import load_digits_dataset
from vitcourse.data.synthetic import synthetic_cifar


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}. Use, e.g., seed=0.")
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
