"""Writes student versions of the chapters: each solution replaced by a stub.

    python -m vitcourse.student chapters student

A code cell tagged ``solution`` becomes a stub made from its own source: every
function and class keeps its signature and docstring and raises
``NotImplementedError`` naming the exercise; every assigned name is set to
``None``; imports stay; anything else goes. The check cell after it then
answers "not attempted yet" (see :func:`vitcourse.exercises.checker`) until
the student writes an answer. A markdown cell tagged ``solution`` (a written
model answer) is removed. Everything else is kept as it is.

The committed ``student/`` folder is this command's output (the instructors'
page links each notebook there, with its own Colab link); a test checks that
it is up to date with ``chapters/``.
"""

import ast
import re
import sys
from pathlib import Path

SOLUTION_TAG = "solution"
HIDDEN_TAGS = {SOLUTION_TAG, "hide-cell", "hide-input", "hide-output"}
EXERCISE_HEADING = re.compile(r"^#+\s*(Exercise\s+\d+\.\d+)", re.MULTILINE)


def _raise_not_implemented(message):
    return ast.parse(f"raise NotImplementedError({message!r})").body[0]


def _stub_def(node, exercise):
    """A function or class keeps its signature and docstring; its body raises NotImplementedError."""
    docstring = ast.get_docstring(node, clean=False)
    body = [ast.Expr(ast.Constant(docstring))] if docstring is not None else []
    if isinstance(node, ast.ClassDef):
        methods = [_stub_def(item, exercise) for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
        body += methods or [ast.Pass()]
    else:
        body.append(_raise_not_implemented(f"{exercise}: write {node.name} here."))
    node.body = body
    return node


def _assigned_names(node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]


def stub_source(source, exercise="the exercise above"):
    """The stub of one solution cell's ``source``, for ``exercise`` (e.g. ``"Exercise 3.1"``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"A solution cell of {exercise} is not plain Python ({error}); write it as Python.") from error
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            parts.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            parts.append(ast.unparse(_stub_def(node, exercise)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            parts += [f"{name} = None  # your answer" for name in _assigned_names(node)]
    if not parts:
        raise ValueError(
            f"The solution cell of {exercise} defines nothing a stub can keep: write the answer as "
            "functions, classes or assignments."
        )
    header = f"# {exercise}: replace this stub with your answer, then run the check cell below."
    return "\n".join([header, *dict.fromkeys(parts)])


def student_version(notebook):
    """``notebook`` (nbformat) with its solutions replaced by stubs; changes it in place and returns it."""
    exercise = "the exercise above"
    cells = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            found = EXERCISE_HEADING.findall(cell.source)
            exercise = found[-1] if found else exercise
        if SOLUTION_TAG not in tags:
            cells.append(cell)
        elif cell.cell_type == "code":
            cell.source = stub_source(cell.source, exercise)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata["tags"] = [tag for tag in tags if tag not in HIDDEN_TAGS]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
            cells.append(cell)
    notebook.cells = cells
    return notebook


def write_student_versions(source_dir, out_dir):
    """Writes the student version of each notebook of ``source_dir`` to ``out_dir``; returns the paths."""
    import nbformat

    source_dir, out_dir = Path(source_dir), Path(out_dir)
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No notebooks in {source_dir}: pass the folder holding the chapters.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        notebook = student_version(nbformat.read(path, as_version=4))
        nbformat.write(notebook, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m vitcourse.student CHAPTERS_DIR OUT_DIR", file=sys.stderr)
        return 2
    for path in write_student_versions(*argv):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
