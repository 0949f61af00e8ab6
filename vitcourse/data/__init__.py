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

One module per source: ``dataset`` (the container, label checks, splits),
``cifar`` (official tarballs), ``cifar10_jpeg`` (the JPEG copy), ``folders``
(image folders), ``digits``, ``synthetic`` (generated stand-ins and generated
official-format tarballs), ``pipelines`` and ``load`` (:func:`load_dataset`).
Import from ``vitcourse.data``; the names below are its public ones.
"""

from vitcourse.data.cifar import (
    CIFAR10_LABELS,
    CIFAR100_COARSE_LABELS,
    CIFAR100_FINE_LABELS,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_SUPERCLASSES,
    CIFAR_ARCHIVES,
    load_cifar,
    md5_of,
    read_cifar_tarball,
)
from vitcourse.data.cifar10_jpeg import CIFAR10_JPEG_SHA256, extract_cifar10_jpeg, load_cifar10_jpeg
from vitcourse.data.dataset import (
    ChecksumError,
    DataUnavailableError,
    ImageDataset,
    check_labels,
    file_digest,
    stratified_split,
    stratified_subset,
)
from vitcourse.data.digits import load_digits_dataset
from vitcourse.data.folders import IMAGE_EXTENSIONS, load_image_folder
from vitcourse.data.load import DATASET_NAMES, load_dataset
from vitcourse.data.pipelines import ArrayDataset, make_tf_dataset
from vitcourse.data.synthetic import synthetic_cifar, synthetic_images, write_cifar_tarball

__all__ = [
    "ArrayDataset",
    "CIFAR10_JPEG_SHA256",
    "CIFAR10_LABELS",
    "CIFAR100_COARSE_LABELS",
    "CIFAR100_FINE_LABELS",
    "CIFAR100_FINE_TO_COARSE",
    "CIFAR100_SUPERCLASSES",
    "CIFAR_ARCHIVES",
    "ChecksumError",
    "DATASET_NAMES",
    "DataUnavailableError",
    "IMAGE_EXTENSIONS",
    "ImageDataset",
    "check_labels",
    "extract_cifar10_jpeg",
    "file_digest",
    "load_cifar",
    "load_cifar10_jpeg",
    "load_dataset",
    "load_digits_dataset",
    "load_image_folder",
    "make_tf_dataset",
    "md5_of",
    "read_cifar_tarball",
    "stratified_split",
    "stratified_subset",
    "synthetic_cifar",
    "synthetic_images",
    "write_cifar_tarball",
]
