"""One repository address: ``vitcourse.config.REPOSITORY_URL``, copied by ``book/set_repository.py``.

Readers install the package from it in Colab, and the book's buttons and the
instructors' Colab links open notebooks from it, so every copy must agree.
"""

import importlib.util
import re
import shutil
from pathlib import Path

import yaml

from vitcourse.config import REPOSITORY_BRANCH, REPOSITORY_URL

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("set_repository", ROOT / "book" / "set_repository.py")
set_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_repository)

INSTALL = re.compile(r"vitcourse @ git\+(https://[^\"'\s\\]+)")
COLAB = re.compile(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/")


def course_files(root=ROOT):
    return [path for pattern in set_repository.FILES for path in sorted(root.glob(pattern))]


def addresses(root=ROOT):
    """{(kind, value)} of every install address and Colab link in the course's files."""
    found = set()
    for path in course_files(root):
        text = path.read_text()
        found |= {("install", url) for url in INSTALL.findall(text)}
        found |= {("colab", f"{repo}@{branch}") for repo, branch in COLAB.findall(text)}
    return found


def test_the_book_config_uses_the_address():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert config["url"] == REPOSITORY_URL and config["branch"] == REPOSITORY_BRANCH


def test_every_install_cell_and_colab_link_uses_the_address():
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    assert chapters
    for path in chapters + [ROOT / "README.md", ROOT / "book" / "running.md"]:
        assert f"vitcourse @ git+{REPOSITORY_URL}" in path.read_text(), f"{path.name} does not install from {REPOSITORY_URL}"
    repo = REPOSITORY_URL.removeprefix("https://github.com/")
    found = addresses()
    assert {value for kind, value in found if kind == "install"} == {REPOSITORY_URL}
    assert {value for kind, value in found if kind == "colab"} <= {f"{repo}@{REPOSITORY_BRANCH}"}


def test_set_repository_rewrites_every_copy(tmp_path):
    for path in course_files():
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    fork = "https://github.com/a-teacher/vit-course-fork"

    changed = set_repository.set_repository(fork, "spring-2027", root=tmp_path)

    assert tmp_path / "_config.yml" in changed and tmp_path / "vitcourse" / "config.py" in changed
    assert set_repository.current(tmp_path) == (fork, "spring-2027")
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())["repository"]
    assert config == {**config, "url": fork, "branch": "spring-2027"}
    found = addresses(tmp_path)
    assert ("install", fork) in found
    assert {value for kind, value in found if kind == "install"} == {fork}
    assert {value for kind, value in found if kind == "colab"} <= {"a-teacher/vit-course-fork@spring-2027"}
    assert not any(REPOSITORY_URL in path.read_text() for path in course_files(tmp_path))
