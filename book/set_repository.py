"""Points the course at another repository, e.g. an instructor's fork.

    python book/set_repository.py https://github.com/you/vit-keras-course [--branch main]

The address is written by hand in one place, ``REPOSITORY_URL`` in
``vitcourse/config.py``. This command replaces it (and the branch) everywhere it
is copied: the book's ``_config.yml`` (the Colab and repository buttons), the
chapters' and student notebooks' install cells, README.md and the book pages.
``tests/test_repository.py`` checks that they all agree.
"""

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["vitcourse/config.py", "_config.yml", "README.md", "book/*.md", "chapters/*.ipynb", "student/*.ipynb"]


def current(root):
    """(url, branch) as ``vitcourse/config.py`` states them."""
    text = (root / "vitcourse" / "config.py").read_text()
    url = re.search(r'^REPOSITORY_URL = "([^"]+)"', text, re.MULTILINE).group(1)
    branch = re.search(r'^REPOSITORY_BRANCH = "([^"]+)"', text, re.MULTILINE).group(1)
    return url, branch


def set_repository(url, branch=None, root=ROOT):
    """Replaces the repository address (and branch) in every file that copies it; returns the changed files."""
    root = Path(root)
    url = url.rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"{url!r} is not a GitHub repository address: write it as https://github.com/OWNER/NAME.")
    old_url, old_branch = current(root)
    branch = branch or old_branch
    old_path, new_path = old_url.removeprefix("https://github.com/"), url.removeprefix("https://github.com/")
    replacements = [
        (old_url, url),
        (f"github/{old_path}/blob/{old_branch}/", f"github/{new_path}/blob/{branch}/"),
        (f"{old_path}/blob/{old_branch}/", f"{new_path}/blob/{branch}/"),
        (f'REPOSITORY_BRANCH = "{old_branch}"', f'REPOSITORY_BRANCH = "{branch}"'),
        (f"  branch: {old_branch}\n", f"  branch: {branch}\n"),
    ]
    changed = []
    for pattern in FILES:
        for path in sorted(root.glob(pattern)):
            text = new = path.read_text()
            for old, replacement in replacements:
                new = new.replace(old, replacement)
            if new != text:
                path.write_text(new)
                changed.append(path)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://github.com/OWNER/NAME")
    parser.add_argument("--branch", help="the branch the book and Colab links read (default: unchanged)")
    parser.add_argument("--root", default=ROOT, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for path in set_repository(args.url, args.branch, args.root):
        print(f"updated {path.relative_to(args.root)}")


if __name__ == "__main__":
    main()
