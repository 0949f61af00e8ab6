"""The official CIFAR-10/100 python tarballs: label names, md5 checks, reading and downloading."""

import os
import pickle
import tarfile
from pathlib import Path

import keras
import numpy as np

from vitcourse.data.dataset import ChecksumError, DataUnavailableError, ImageDataset, file_digest


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

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"


def md5_of(path):
    """The md5 hex digest of a file."""
    return file_digest(path, "md5")


def check_cifar_args(name, label_mode):
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
    check_cifar_args(name, label_mode)
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
            train = [_unpickle(tar, f"{CIFAR10_DIR}/data_batch_{i}", path) for i in range(1, 6)]
            test = _unpickle(tar, f"{CIFAR10_DIR}/test_batch", path)
            meta = _unpickle(tar, f"{CIFAR10_DIR}/batches.meta", path, required=False)
            label_key, names_key, default_names = b"labels", b"label_names", CIFAR10_LABELS
        else:
            train = [_unpickle(tar, f"{CIFAR100_DIR}/train", path)]
            test = _unpickle(tar, f"{CIFAR100_DIR}/test", path)
            meta = _unpickle(tar, f"{CIFAR100_DIR}/meta", path, required=False)
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


def images_to_rows(images):
    # (N, 32, 32, 3) -> (N, 3, 32, 32) -> (N, 3072), the inverse of _rows_to_images
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), -1)


def load_cifar(name="cifar10", label_mode="fine"):
    """Load the official CIFAR-10 or CIFAR-100 data.

    Reads ``$VITCOURSE_DATA_DIR/<official file name>`` if that variable is set,
    otherwise downloads the tarball once into ``~/.keras/datasets``. Never falls
    back to other data: without the file and without internet it raises
    :class:`DataUnavailableError`.
    """
    check_cifar_args(name, label_mode)
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
