"""scikit-learn's handwritten digits: real data that works offline."""

import numpy as np

from vitcourse.data.dataset import ImageDataset, stratified_split


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
