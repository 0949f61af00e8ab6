"""What the book is made of, read from _toc.yml and the pages: shared by the structure and site tests."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files():
    """Every page in _toc.yml, in reading order (root first), without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def reader_facing_files():
    """What a reader reads: the chapters, the book's own pages and the README."""
    return sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md")) + [ROOT / "README.md"]


def reader_facing_texts(path):
    """[(where, text)] of a reader-facing file: each notebook cell's source and its text outputs
    (what the rendered page shows: images are left out), or a page's whole text."""
    if path.suffix != ".ipynb":
        return [("", path.read_text())]
    texts = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        texts.append((f"cell {index}", _text(cell.get("source", ""))))
        for output in cell.get("outputs", []):
            texts.append((f"cell {index} (output)", _text(output.get("text", ""))))
            for mime, data in output.get("data", {}).items():
                if mime.startswith("text/"):
                    texts.append((f"cell {index} (output, {mime})", _text(data)))
    return texts


def _text(value):
    return "".join(value) if isinstance(value, list) else value


def _slug(title):
    """The anchor MyST gives a heading (myst_parser's default_slugify, with `myst_heading_anchors`)."""
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", title.lower().replace(" ", "-"))


def heading_anchors(markdown, max_level=3):
    """The anchors of a MyST page's headings down to ``max_level`` (_config.yml: myst_heading_anchors: 3).

    Code blocks are skipped: a ``# comment`` in a fence is not a heading."""
    anchors, fenced = set(), False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = re.match(r"^(#{1,%d})\s+(.+?)\s*#*\s*$" % max_level, line)
        if match and not fenced:
            anchors.add(_slug(match.group(2).strip()))
    return anchors
