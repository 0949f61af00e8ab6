"""Folders of images, one sub-folder per class, read with Pillow."""

from pathlib import Path

import numpy as np


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
            if image.mode.startswith("I"):
                # 16-bit grey (mode "I;16" or "I"): convert("RGB") would clip every value
                # above 255 to white, so scale 0..65535 down to 0..255 first.
                grey = np.clip(np.round(np.asarray(image, dtype=np.float64) / 257), 0, 255)
                image = Image.fromarray(grey.astype(np.uint8))
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
