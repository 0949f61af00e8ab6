"""How big a run is: the one switch, ``VITCOURSE_MODE`` (smoke | quick | full).

- smoke: generated offline data and tiny models; seconds. CI and ``make book`` use it.
- quick: a real-data subset; minutes on a laptop CPU.
- full: the real recipe; meant for a GPU.

Default: ``full`` when Keras sees a GPU, ``quick`` otherwise.
"""

import os
from dataclasses import dataclass

MODES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class RunSize:
    """What a mode means for a training run."""

    mode: str
    epochs: int
    train_images: int | None  # None: the whole training set
    test_images: int | None
    batch_size: int


RUN_SIZES = {
    "smoke": RunSize("smoke", epochs=1, train_images=256, test_images=128, batch_size=64),
    "quick": RunSize("quick", epochs=5, train_images=5000, test_images=1000, batch_size=128),
    "full": RunSize("full", epochs=100, train_images=None, test_images=None, batch_size=256),
}


def _has_gpu():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def run_mode():
    """The run mode: ``VITCOURSE_MODE`` if set, else full with a GPU, quick without."""
    mode = os.environ.get("VITCOURSE_MODE", "").strip().lower()
    if not mode:
        return "full" if _has_gpu() else "quick"
    if mode not in MODES:
        raise ValueError(
            f"VITCOURSE_MODE={mode!r} is not a run mode. "
            f"Set it to one of {', '.join(MODES)} (or unset it for the default)."
        )
    return mode


def run_size(mode=None):
    """The :class:`RunSize` of ``mode`` (default: :func:`run_mode`)."""
    mode = mode or run_mode()
    if mode not in RUN_SIZES:
        raise ValueError(f"Unknown run mode {mode!r}: choose one of {', '.join(MODES)}.")
    return RUN_SIZES[mode]


# Where the course lives. The one place this address is written by hand: `python
# book/set_repository.py URL` copies it into _config.yml, the chapters' install cells,
# the student notebooks, README.md and book/running.md (for an instructor's fork), and
# tests/test_repository.py checks that they all agree.
REPOSITORY_URL = "https://github.com/vitcourse/vit-keras-course"
REPOSITORY_BRANCH = "main"
