"""The course's figures, drawn with matplotlib. Each function returns its Figure."""

import matplotlib.pyplot as plt
import numpy as np


def _as_image(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = image.astype("float32")
        if image.max() > 1.0:
            image = image / 255.0
        image = np.clip(image, 0.0, 1.0)
    return image[..., 0] if image.shape[-1] == 1 else image


def plot_patch_grid(image, patch_size, title=None, gap=0.04):
    """An image cut into its ``patch_size`` patches, drawn apart in reading order.

    Example: ``plot_patch_grid(x_train[0], 4)`` draws the 8 x 8 grid of 4x4 patches.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"plot_patch_grid takes one image (H, W, C), got shape {image.shape}.")
    h, w = image.shape[:2]
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"Image size {h}x{w} is not a multiple of patch_size {patch_size}: "
            "choose a patch size that divides both."
        )
    rows, cols = h // patch_size, w // patch_size
    fig = plt.figure(figsize=(min(8, 0.5 + cols * 0.45), min(8, 0.5 + rows * 0.45)))
    grid = fig.add_gridspec(rows, cols, wspace=gap, hspace=gap)
    for r in range(rows):
        for c in range(cols):
            ax = fig.add_subplot(grid[r, c])
            patch = image[r * patch_size : (r + 1) * patch_size, c * patch_size : (c + 1) * patch_size]
            ax.imshow(_as_image(patch), cmap="gray", interpolation="nearest")
            ax.axis("off")
    fig.suptitle(title or f"{rows * cols} patches of {patch_size}x{patch_size}")
    return fig


def plot_images(images, titles=None, ncols=8, size=1.4):
    """A grid of images with optional titles."""
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.25), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(_as_image(images[i]), cmap="gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_predictions(images, y_true, y_pred, label_names, ncols=4, max_images=16):
    """Images titled with their true and predicted label *names*, wrong ones in red.

    Every name is looked up with the index of the same image: the Keras ViT
    study notes show the bug this avoids, a title built from one image's index
    and another image's label.
    """
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(
            f"plot_predictions got {len(images)} images, {len(y_true)} true labels and "
            f"{len(y_pred)} predictions: pass the same images' labels and predictions."
        )
    n = min(max_images, len(images))
    fig = plot_images(images[:n], ncols=ncols, size=2.2)
    for i, ax in enumerate(fig.axes[:n]):
        true, pred = label_names[y_true[i]], label_names[y_pred[i]]
        ax.set_title(f"true: {true}\npred: {pred}", fontsize=8, color="black" if true == pred else "red")
    fig.tight_layout()
    return fig


def plot_history(history, metrics=("loss", "accuracy")):
    """Training curves: each metric for training and validation, per epoch.

    ``history`` is a ``keras.callbacks.History``, its ``.history`` dict, or
    the dict that ``vitcourse.training`` writes to ``history.json``.
    """
    history = getattr(history, "history", history)
    if "epochs" in history and isinstance(history["epochs"], list):  # history.json rows
        rows = history["epochs"]
        history = {k: [row[k] for row in rows if k in row] for k in rows[0]} if rows else {}
    present = [m for m in metrics if m in history]
    if not present:
        raise ValueError(f"None of {metrics} is in the history (it has {sorted(history)}).")
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], present):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], marker="o", label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_matrix(matrix, title="", xlabel="", ylabel="", cmap="viridis", ax=None):
    """A heat map with a colour bar: attention weights, similarities, confusions."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 3.5))
    else:
        fig = ax.figure
    im = ax.imshow(np.asarray(matrix), cmap=cmap)
    fig.colorbar(im, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig
