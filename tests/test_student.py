"""`make student`: student versions of the chapters, without the solutions.

Runs ``vitcourse.student`` (what `make student` calls) on the real chapters and
on a small notebook made here, and checks that every cell tagged ``solution``
is gone while everything else, the exercises' check cells included, is kept.
"""

import re
from pathlib import Path

import nbformat
import pytest

from vitcourse import student

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CHECKER_CALL = re.compile(r"\bch\d\d\.check_\w+\s*\(")


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def sources(cells):
    return [(cell.cell_type, cell.source) for cell in cells]


def small_notebook():
    new = nbformat.v4
    notebook = new.new_notebook()
    notebook.cells = [
        new.new_markdown_cell("# A chapter"),
        new.new_code_cell("import os", metadata={"tags": ["colab"]}),
        new.new_markdown_cell("### Exercise 9.1: add\n\nSet `answer` to 2."),
        new.new_code_cell("answer = 1 + 1", metadata={"tags": ["solution", "hide-cell"]}),
        new.new_code_cell("ch09.check_answer(answer)"),
        new.new_markdown_cell("### Exercise 9.2: explain\n\nWhy?"),
        new.new_markdown_cell("```{dropdown} Solution\nBecause.\n```", metadata={"tags": ["solution"]}),
    ]
    return notebook


def test_removes_solution_cells_and_keeps_the_rest(tmp_path):
    source = tmp_path / "chapters"
    source.mkdir()
    nbformat.write(small_notebook(), source / "09_small.ipynb")

    written = student.strip_solutions(source, tmp_path / "student")

    assert written == [tmp_path / "student" / "09_small.ipynb"]
    kept = nbformat.read(written[0], as_version=4)
    nbformat.validate(kept)
    assert sources(kept.cells) == [
        ("markdown", "# A chapter"),
        ("code", "import os"),
        ("markdown", "### Exercise 9.1: add\n\nSet `answer` to 2."),
        ("code", "ch09.check_answer(answer)"),
        ("markdown", "### Exercise 9.2: explain\n\nWhy?"),
    ]


def test_leaves_the_chapters_untouched(tmp_path):
    source = tmp_path / "chapters"
    source.mkdir()
    path = source / "09_small.ipynb"
    nbformat.write(small_notebook(), path)
    before = path.read_bytes()
    student.strip_solutions(source, tmp_path / "student")
    assert path.read_bytes() == before


def test_command_line(tmp_path, capsys):
    source = tmp_path / "chapters"
    source.mkdir()
    nbformat.write(small_notebook(), source / "09_small.ipynb")
    assert student.main([str(source), str(tmp_path / "out")]) == 0
    assert "09_small.ipynb" in capsys.readouterr().out
    assert student.main([]) == 2
    with pytest.raises(FileNotFoundError):
        student.strip_solutions(tmp_path / "empty", tmp_path / "out")


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory):
    """{chapter name: (original, student version)}, made from the real chapters."""
    if not CHAPTERS:
        pytest.skip("no chapters in chapters/ yet")
    out = tmp_path_factory.mktemp("student")
    student.strip_solutions(ROOT / "chapters", out)
    return {path.name: (nbformat.read(path, as_version=4), nbformat.read(out / path.name, as_version=4)) for path in CHAPTERS}


@pytest.mark.parametrize("name", [path.name for path in CHAPTERS])
def test_real_chapter_loses_only_its_solutions(student_versions, name):
    original, stripped = student_versions[name]
    assert any("solution" in tags(cell) for cell in original.cells), f"{name} has no solution cells to remove"
    assert not [cell for cell in stripped.cells if "solution" in tags(cell)], f"{name}: solution cells remain"
    expected = [cell for cell in original.cells if "solution" not in tags(cell)]
    assert sources(stripped.cells) == sources(expected), f"{name}: a cell that is not a solution was lost or changed"
    assert "colab" in tags(next(cell for cell in stripped.cells if cell.cell_type == "code"))


@pytest.mark.parametrize("name", [path.name for path in CHAPTERS])
def test_real_chapter_keeps_its_check_cells(student_versions, name):
    original, stripped = student_versions[name]
    checks = [
        cell.source
        for cell in original.cells
        if cell.cell_type == "code" and "solution" not in tags(cell) and CHECKER_CALL.search(cell.source)
    ]
    assert checks, f"{name} has no exercise check cells"
    kept = [cell.source for cell in stripped.cells if cell.cell_type == "code"]
    assert all(check in kept for check in checks), f"{name}: exercise check cells were removed"
    headings = [cell.source for cell in original.cells if "### Exercise" in cell.source]
    assert all(heading in [cell.source for cell in stripped.cells] for heading in headings)
