"""Draws the README's picture: a photo cut into 6x6 patches, as keras.io's ViT sees it.

    .venv/bin/python book/make_readme_figure.py   # writes book/images/patch_grid.png

The photo is scikit-learn's bundled sample image "china.jpg", resized to 72x72.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

from vitcourse.plots import plot_patch_grid

photo = Image.fromarray(load_sample_image("china.jpg")).resize((72, 72), Image.BICUBIC)
fig = plot_patch_grid(np.asarray(photo), 6, title="A 72x72 image as 144 patches of 6x6")
out = Path(__file__).parent / "images" / "patch_grid.png"
fig.savefig(out, dpi=80, bbox_inches="tight")
print(f"wrote {out}")
