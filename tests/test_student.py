"""Student versions of the chapters: each solution replaced by a stub.

Runs ``vitcourse.student`` (what `make student` calls) on a small notebook made
here and on the real chapters, checks that the stubs make the check cells say
"not attempted yet", and that the committed ``student/`` folder is up to date.
Running the student notebooks top to bottom is `make test-student-notebooks`' job (part of `make test`).
"""

import re
from pathlib import Path

import nbformat
import pytest

from vitcourse import student
from vitcourse.exercises import NotAttempted, Solved, checker, expect, passed

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CHECKER_CALL = re.compile(r"\bch\d\d\.check_\w+\s*\(")


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def small_notebook():
    new = nbformat.v4
    notebook = new.new_notebook()
    notebook.cells = [
        new.new_markdown_cell("# A chapter"),
        new.new_code_cell("import os", metadata={"tags": ["colab"]}),
        new.new_markdown_cell("### Exercise 9.1: add\n\nWrite `add(a, b)` and set `answer` to 2."),
        new.new_code_cell(
            'import math\n\ndef add(a, b):\n    """The sum."""\n    return a + b\n\nanswer = add(1, 1)\nanswer',
            metadata={"tags": ["solution", "hide-cell"]},
        ),
        new.new_code_cell("ch09.check_answer(add, answer)"),
        new.new_markdown_cell("### Exercise 9.2: explain\n\nWhy?"),
        new.new_markdown_cell("```{dropdown} Solution\nBecause.\n```", metadata={"tags": ["solution"]}),
    ]
    return notebook


@checker("Exercise 9.1")
def check_answer(add, answer):
    expect(add(2, 3) == 5, "add(2, 3) should be 5.")
    expect(answer == 2, "answer should be 2.")
    return passed("Exercise 9.1")


def test_solutions_become_stubs_and_the_rest_stays(tmp_path):
    source = tmp_path / "chapters"
    source.mkdir()
    nbformat.write(small_notebook(), source / "09_small.ipynb")

    written = student.write_student_versions(source, tmp_path / "student")

    assert written == [tmp_path / "student" / "09_small.ipynb"]
    kept = nbformat.read(written[0], as_version=4)
    nbformat.validate(kept)
    assert [cell.source for cell in kept.cells if cell.source != kept.cells[3].source] == [
        "# A chapter",
        "import os",
        "### Exercise 9.1: add\n\nWrite `add(a, b)` and set `answer` to 2.",
        "ch09.check_answer(add, answer)",
        "### Exercise 9.2: explain\n\nWhy?",
    ]
    stub = kept.cells[3]
    assert "solution" not in tags(stub) and "hide-cell" not in tags(stub)
    assert "Exercise 9.1" in stub.source and "import math" in stub.source
    assert "return a + b" not in stub.source and '"""The sum."""' in stub.source

    # The stub runs, and the checker says "not attempted yet" instead of raising.
    namespace = {}
    exec(stub.source, namespace)
    with pytest.raises(NotImplementedError, match="Exercise 9.1: write add"):
        namespace["add"](1, 2)
    assert namespace["answer"] is None
    verdict = check_answer(namespace["add"], namespace["answer"])
    assert isinstance(verdict, NotAttempted) and not verdict
    assert "Exercise 9.1: not attempted yet" in repr(verdict)
    # A real answer still goes through the checker, right or wrong.
    assert isinstance(check_answer(lambda a, b: a + b, 2), Solved)
    with pytest.raises(AssertionError, match="add\\(2, 3\\) should be 5"):
        check_answer(lambda a, b: a - b, 2)


def test_stub_refuses_a_solution_it_cannot_keep():
    with pytest.raises(ValueError, match="Exercise 9.9.*defines nothing"):
        student.stub_source("print(42)", "Exercise 9.9")
    with pytest.raises(ValueError, match="not plain Python"):
        student.stub_source("%timeit 1 + 1", "Exercise 9.9")


def test_leaves_the_chapters_untouched(tmp_path):
    source = tmp_path / "chapters"
    source.mkdir()
    path = source / "09_small.ipynb"
    nbformat.write(small_notebook(), path)
    before = path.read_bytes()
    student.write_student_versions(source, tmp_path / "student")
    assert path.read_bytes() == before


def test_command_line(tmp_path, capsys):
    source = tmp_path / "chapters"
    source.mkdir()
    nbformat.write(small_notebook(), source / "09_small.ipynb")
    assert student.main([str(source), str(tmp_path / "out")]) == 0
    assert "09_small.ipynb" in capsys.readouterr().out
    assert student.main([]) == 2
    with pytest.raises(FileNotFoundError):
        student.write_student_versions(tmp_path / "empty", tmp_path / "out")


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory):
    """{chapter name: (original, student version)}, made from the real chapters."""
    assert CHAPTERS, "no chapters in chapters/"
    out = tmp_path_factory.mktemp("student")
    student.write_student_versions(ROOT / "chapters", out)
    return {path.name: (nbformat.read(path, as_version=4), nbformat.read(out / path.name, as_version=4)) for path in CHAPTERS}


@pytest.mark.parametrize("name", [path.name for path in CHAPTERS])
def test_real_chapter_has_a_stub_for_each_solution(student_versions, name):
    original, stripped = student_versions[name]
    solutions = [cell for cell in original.cells if "solution" in tags(cell) and cell.cell_type == "code"]
    assert solutions, f"{name} has no solution code cells"
    assert not [cell for cell in stripped.cells if "solution" in tags(cell)], f"{name}: solution cells remain"
    stubs = [cell for cell in stripped.cells if cell.source.startswith("# Exercise ")]
    assert len(stubs) == len(solutions), f"{name}: every solution code cell becomes one stub"
    for stub in stubs:
        compile(stub.source, f"{name} stub", "exec")
    kept = [cell for cell in original.cells if "solution" not in tags(cell)]
    others = [cell for cell in stripped.cells if not cell.source.startswith("# Exercise ")]
    assert [c.source for c in others] == [c.source for c in kept], f"{name}: a cell that is not a solution changed"
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


@pytest.mark.parametrize("name", [path.name for path in CHAPTERS])
def test_committed_student_version_is_up_to_date(student_versions, name):
    committed = ROOT / "student" / name
    assert committed.exists(), f"student/{name} is missing: run `make student`"
    _, fresh = student_versions[name]
    assert nbformat.read(committed, as_version=4) == fresh, f"student/{name} is stale: run `make student`"


def test_instructors_page_links_every_student_notebook_and_its_colab():
    page = (ROOT / "book" / "instructors.md").read_text()
    linked = set(re.findall(r"/blob/[\w.-]+/(student/[\w.-]+\.ipynb)\)", page))
    colab = set(re.findall(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/(student/[\w.-]+\.ipynb)", page))
    expected = {f"student/{path.name}" for path in CHAPTERS}
    assert linked == expected, f"book/instructors.md links {sorted(linked)}, the chapters are {sorted(expected)}"
    assert colab == expected, "each student notebook needs its own Colab link on book/instructors.md"
