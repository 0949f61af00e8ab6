"""The book's structure, checked without building it.

Every chapter notebook: opens with the Colab cell, runs in the ``python3``
kernel, has at least three exercises, each with a solution that the site hides
(and ``make student`` removes), commits no outputs except the ones nbval
compares, and is in ``_toc.yml``. The instructors' page lists exactly the
chapters' exercises, with the checker each one calls.
"""

import re
from pathlib import Path

import nbformat
import pytest

from book_files import toc_files

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_DIR = ROOT / "chapters"
INSTRUCTORS = ROOT / "book" / "instructors.md"
CHAPTERS = sorted(CHAPTER_DIR.glob("*.ipynb"))

EXERCISE_HEADING = re.compile(r"^###\s+(Exercise\s+(\d+)\.(\d+):.*?)\s*$", re.MULTILINE)
ANY_HEADING = re.compile(r"^#{1,3}\s", re.MULTILINE)
# A check cell calls a checker of the chapter's module: ``ch01.check_num_patches(...)``.
CHECKER_CALL = re.compile(r"\b(ch\d\d)\.(check_\w+)\s*\(")
# A row of the instructors' page: | Exercise 1.1: title | what it checks | `ch01.check_x` or — |
PAGE_ROW = re.compile(r"^\|\s*(Exercise\s+\d+\.\d+:.*?)\s*\|(.*)\|\s*$", re.MULTILINE)
PAGE_MENTION = re.compile(r"\bExercise\s+\d+\.\d+\b")


def normalize(text):
    return " ".join(text.split())


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def read(path):
    return nbformat.read(path, as_version=4)


def exercises(notebook):
    """[(heading, chapter number, exercise number, cells after the heading up to the next heading)]."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        matches = list(EXERCISE_HEADING.finditer(cell.source))
        for match in matches:
            # Cells that belong to the exercise: up to the next markdown cell with a heading.
            body = []
            if match is matches[-1] and not ANY_HEADING.search(cell.source[match.end() :]):
                for following in notebook.cells[index + 1 :]:
                    if following.cell_type == "markdown" and ANY_HEADING.search(following.source):
                        break
                    body.append(following)
            found.append((normalize(match.group(1)), int(match.group(2)), int(match.group(3)), body))
    return found


def checker_of(body):
    """The ``chNN.check_x`` that the exercise's check cell calls, or None (a written answer)."""
    for cell in body:
        if cell.cell_type == "code" and "solution" not in tags(cell):
            match = CHECKER_CALL.search(cell.source)
            if match:
                return f"{match.group(1)}.{match.group(2)}"
    return None



def chapter_ids(paths):
    return [path.stem for path in paths]


def test_there_are_chapters():
    assert CHAPTERS, f"no notebooks in {CHAPTER_DIR}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_chapter_is_in_the_toc(path):
    assert f"chapters/{path.stem}" in toc_files(), f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("page", toc_files())
def test_toc_page_exists(page):
    candidates = [ROOT / f"{page}{suffix}" for suffix in (".md", ".ipynb")]
    assert any(path.exists() for path in candidates), f"_toc.yml lists {page}, which does not exist"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_chapter_starts_with_the_colab_cell(path):
    notebook = read(path)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{path.name} has no code"
    first = code_cells[0]
    assert "colab" in tags(first), f"{path.name}: the first code cell must be the Colab cell, tagged 'colab'"
    for needle in ('"google.colab" in sys.modules', "%pip install", "vitcourse @ git+https://github.com/", "VITCOURSE_MODE"):
        assert needle in first.source, f"{path.name}: the Colab cell lacks {needle!r}"
    before = notebook.cells[: notebook.cells.index(first)]
    assert all(cell.cell_type == "markdown" for cell in before)


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_chapter_runs_in_the_python3_kernel(path):
    kernelspec = read(path).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"{path.name}: kernelspec {kernelspec!r}, expected name 'python3'"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_chapter_has_numbered_exercises(path):
    found = exercises(read(path))
    assert len(found) >= 3, f"{path.name}: {len(found)} exercises, at least 3 expected"
    chapter_number = int(path.stem.split("_")[0])
    numbers = [(chapter, number) for _, chapter, number, _ in found]
    expected = [(chapter_number, k) for k in range(1, len(found) + 1)]
    assert numbers == expected, f"{path.name}: exercises numbered {numbers}, expected {expected}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_every_exercise_has_a_hidden_solution(path):
    for heading, _, _, body in exercises(read(path)):
        solutions = [cell for cell in body if "solution" in tags(cell)]
        assert solutions, f"{path.name}: {heading} has no cell tagged 'solution'"
        for cell in solutions:
            if cell.cell_type == "code":
                assert "hide-cell" in tags(cell), f"{path.name}: {heading}: a code solution must be tagged 'hide-cell'"
            else:
                assert "{dropdown}" in cell.source, f"{path.name}: {heading}: a written solution goes in a dropdown"
        if any(cell.cell_type == "code" for cell in solutions):
            assert checker_of(body), f"{path.name}: {heading}: no check cell calling a chNN.check_... function"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_only_checked_cells_carry_outputs(path):
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type == "code" and cell.get("outputs"):
            assert "# NBVAL_CHECK_OUTPUT" in cell.source, (
                f"{path.name}, cell {index}: committed outputs in a cell without '# NBVAL_CHECK_OUTPUT'"
            )


def page_rows():
    """{exercise heading: the rest of its row} from the instructors' page."""
    text = INSTRUCTORS.read_text()
    return {normalize(match.group(1)): match.group(2) for match in PAGE_ROW.finditer(text)}


def chapter_exercises():
    """{exercise heading: (chapter file, the checker it calls or None)} from every chapter."""
    found = {}
    for path in CHAPTERS:
        for heading, _, _, body in exercises(read(path)):
            found[heading] = (path.name, checker_of(body))
    return found


def test_instructors_page_lists_every_exercise():
    listed = page_rows()
    missing = [heading for heading in chapter_exercises() if heading not in listed]
    assert not missing, f"book/instructors.md does not list: {missing}"


def test_instructors_page_lists_only_real_exercises():
    in_chapters = chapter_exercises()
    stale = [heading for heading in page_rows() if heading not in in_chapters]
    assert not stale, f"book/instructors.md lists exercises that no chapter has: {stale}"
    mentioned = set(PAGE_MENTION.findall(INSTRUCTORS.read_text()))
    numbers = {PAGE_MENTION.search(heading).group(0) for heading in in_chapters}
    assert mentioned <= numbers, f"book/instructors.md mentions {sorted(mentioned - numbers)}"


def test_instructors_page_names_each_checker():
    listed = page_rows()
    for heading, (chapter, checker) in chapter_exercises().items():
        if heading not in listed:
            continue  # reported by test_instructors_page_lists_every_exercise
        if checker:
            assert f"`{checker}`" in listed[heading], f"{heading} ({chapter}) is checked by {checker}"
        else:
            assert "`ch" not in listed[heading], f"{heading} ({chapter}) has no checker (a written answer)"
