"""The book's structure, checked without building it.

Every chapter notebook: opens with its title, the Colab cell and the notice of
the mode it ran in, runs in the ``python3`` kernel, has at least three
exercises, each with a solution that the site hides (and ``make student``
removes), commits no outputs except the ones nbval compares (cells tagged
``nbval-check-output``), and is in ``_toc.yml``. The instructors' page lists
exactly the chapters' exercises, with the checker each one calls.

What a reader reads (chapters, book pages, README) names the questions behind
the course by their short names, linked to their sections of
``book/questions.md``, never by number ("seed 004"); and says once, for readers
of older tutorials, that AdamW comes from Keras rather than tensorflow-addons.
"""

import re
from pathlib import Path

import nbformat
import pytest

from book_files import heading_anchors, reader_facing_files, reader_facing_texts, toc_files

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_DIR = ROOT / "chapters"
INSTRUCTORS = ROOT / "book" / "instructors.md"
QUESTIONS = ROOT / "book" / "questions.md"
CHAPTERS = sorted(CHAPTER_DIR.glob("*.ipynb"))
READER_FACING = reader_facing_files()
# nbval compares the outputs of the cells tagged so (with --nbval-lax), and only those.
CHECKED_TAG = "nbval-check-output"
# The sections of book/questions.md that the chapters link to, one per source question.
QUESTION_ANCHORS = [
    "the-resnet50-transformer-question",
    "the-keras-vit-study-notes",
    "the-pet-breeds-write-up",
    "the-small-datasets-example",
    "the-2x2-patches-project",
]
# A source question named by its number: "seed 004", "Seed 000's", "seeds 000 and 004", "seed 0".
# (A random seed is written `seed=0`, or `--seed 0` on a command line, which this does not match.)
QUESTION_NUMBER = re.compile(r"(?<!--)\bseeds?\s+0", re.IGNORECASE)
# The same number in a name that a reader sees in code: `seed004 = ...`, `check_seed000_first_dense`.
QUESTION_NUMBER_IN_CODE = re.compile(r"seed_?0\d\d", re.IGNORECASE)
LINK_TO_QUESTIONS = re.compile(r"questions\.md#([\w-]+)")

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
def test_chapter_shows_its_notice_after_the_colab_cell(path):
    cells = read(path).cells
    colab = [index for index, cell in enumerate(cells) if cell.cell_type == "code" and "colab" in tags(cell)]
    assert colab, f"{path.name}: no Colab cell (a code cell tagged 'colab')"
    before = cells[: colab[0]]
    assert any(cell.cell_type == "markdown" and re.search(r"^# \S", cell.source, re.M) for cell in before), (
        f"{path.name}: the chapter's '# ' title must come before the Colab cell"
    )
    assert colab[0] + 1 < len(cells), f"{path.name}: nothing after the Colab cell"
    notice = cells[colab[0] + 1]
    where = f"{path.name}, cell {colab[0] + 1} (right after the Colab cell)"
    assert notice.cell_type == "code", f"{where}: expected the notice cell, found a {notice.cell_type} cell"
    assert re.search(r"\bshow_page_notice\(", notice.source), f"{where}: does not call show_page_notice()"
    assert "remove-input" in tags(notice), f"{where}: the notice cell must be tagged 'remove-input'"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_only_checked_cells_carry_outputs(path):
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type == "code" and cell.get("outputs"):
            assert CHECKED_TAG in tags(cell), (
                f"{path.name}, cell {index}: committed outputs in a cell not tagged {CHECKED_TAG!r}"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_ids(CHAPTERS))
def test_no_nbval_marker_in_the_code(path):
    # The rendered page shows a cell's source: compared cells are marked by a tag, not a comment.
    for index, cell in enumerate(read(path).cells):
        assert "NBVAL_CHECK_OUTPUT" not in cell.source.upper(), (
            f"{path.name}, cell {index}: '# NBVAL_CHECK_OUTPUT' in the source; tag the cell {CHECKED_TAG!r} instead"
        )


def reader_facing_ids(paths):
    return [str(path.relative_to(ROOT)) for path in paths]


def found_in(path, pattern):
    """['cell 3: ...seed 004...'] for every place in a reader-facing file that matches ``pattern``."""
    found = []
    for where, text in reader_facing_texts(path):
        for match in pattern.finditer(text):
            context = " ".join(text[max(0, match.start() - 30) : match.end() + 30].split())
            found.append(f"{where}: ...{context}..." if where else f"...{context}...")
    return found


@pytest.mark.parametrize("path", READER_FACING, ids=reader_facing_ids(READER_FACING))
def test_no_source_question_named_by_number(path):
    found = found_in(path, QUESTION_NUMBER)
    assert not found, (
        f"{path.relative_to(ROOT)} names a source question by number; use its short name and link to "
        f"book/questions.md (a random seed is written seed=0): {found}"
    )


@pytest.mark.parametrize("path", READER_FACING, ids=reader_facing_ids(READER_FACING))
def test_no_source_question_number_in_code_names(path):
    found = found_in(path, QUESTION_NUMBER_IN_CODE)
    assert not found, f"{path.relative_to(ROOT)}: names built from a source question's number: {found}"


def package_strings():
    """[(file:line, text)] of every string literal in the package: docstrings and messages a user sees."""
    import ast

    strings = []
    for path in sorted((ROOT / "vitcourse").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
    return strings


def test_package_docstrings_and_messages_name_no_source_question_by_number():
    found = [
        f"{where}: {' '.join(text.split())[:100]}"
        for where, text in package_strings()
        if QUESTION_NUMBER.search(text) or QUESTION_NUMBER_IN_CODE.search(text)
    ]
    assert not found, f"the package shows a source question's number; use its short name: {found}"


def test_questions_page_has_a_section_per_question():
    anchors = heading_anchors(QUESTIONS.read_text())
    missing = [anchor for anchor in QUESTION_ANCHORS if anchor not in anchors]
    assert not missing, f"book/questions.md has no heading for {missing}; its anchors: {sorted(anchors)}"


@pytest.mark.parametrize("path", READER_FACING, ids=reader_facing_ids(READER_FACING))
def test_links_to_the_questions_page_reach_a_section(path):
    anchors = heading_anchors(QUESTIONS.read_text())
    links = [anchor for _, text in reader_facing_texts(path) for anchor in LINK_TO_QUESTIONS.findall(text)]
    broken = sorted(set(links) - anchors)
    assert not broken, f"{path.relative_to(ROOT)} links to sections that book/questions.md lacks: {broken}"


def test_tensorflow_addons_is_mentioned_once():
    """One place tells readers of older tutorials that AdamW now ships with Keras; no page repeats it."""
    mention = re.compile(r"\b(tf|tensorflow)[- _]?addons\b", re.IGNORECASE)
    places = [
        (f"{path.relative_to(ROOT)} {where}".strip(), text)
        for path in READER_FACING
        for where, text in reader_facing_texts(path)
        if mention.search(text)
    ]
    assert len(places) == 1, f"tensorflow-addons is mentioned in {len(places)} places: {[p for p, _ in places]}"
    where, text = places[0]
    assert "keras.optimizers.AdamW" in text, f"{where} mentions tensorflow-addons without naming keras.optimizers.AdamW"


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
