"""Writes student versions of the chapters: every cell tagged ``solution`` removed.

    python -m vitcourse.student chapters _build/student

Uses nbconvert's TagRemovePreprocessor, so instructors can do the same with
nbconvert alone::

    jupyter nbconvert --to notebook --TagRemovePreprocessor.enabled=True \\
        --TagRemovePreprocessor.remove_cell_tags solution --output-dir _build/student chapters/*.ipynb

Everything that is not tagged ``solution`` is kept, the exercises' check cells
included, so students still see whether their answers are right.
"""

import sys
from pathlib import Path

SOLUTION_TAG = "solution"


def strip_solutions(source_dir, out_dir):
    """Writes each notebook of ``source_dir`` to ``out_dir`` without its solution cells."""
    import nbformat
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    source_dir, out_dir = Path(source_dir), Path(out_dir)
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No notebooks in {source_dir}: pass the folder holding the chapters.")
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {SOLUTION_TAG}
    config.TagRemovePreprocessor.enabled = True
    remover = TagRemovePreprocessor(config=config)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        notebook, _ = remover.preprocess(notebook, {})
        nbformat.write(notebook, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m vitcourse.student CHAPTERS_DIR OUT_DIR", file=sys.stderr)
        return 2
    for path in strip_solutions(*argv):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
