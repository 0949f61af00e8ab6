"""What a Colab reader gets: the built wheel, installed into a fresh environment.

Colab's first cell installs the package with pip, not as an editable checkout,
so this test does the same: it builds the wheel, installs it with the pinned
dependencies into a new virtual environment that has no path back to this
repository, and runs every chapter there, top to bottom, in smoke mode, from a
folder outside the repository. `make test-wheel` runs it (marker ``wheel``).
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.wheel

# What the chapters need besides the package itself (requirements.txt pins their versions).
NOTEBOOK_TOOLS = ["tensorflow", "keras-hub", "pytest", "nbval", "ipykernel", "pydot", "nbformat"]


def run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def clean_env(**extra):
    """The environment without anything that points back to this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT)))
    env.update(extra)
    return env


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "vitcourse").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert folders <= listed, f"pyproject.toml's packages lacks {sorted(folders - listed)}: a pip install would leave them out"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], cwd=out)
    (path,) = out.glob("vitcourse-*.whl")
    return path


def test_wheel_holds_every_module_and_the_recorded_runs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "vitcourse").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, f"the wheel lacks {sorted(modules - names)}"
    recorded = {f"vitcourse/recorded/{p.name}" for p in (ROOT / "results").glob("*.json")}
    assert recorded and recorded <= names, f"the wheel lacks the recorded runs {sorted(recorded - names)}"


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel and what the notebooks need, nothing else."""
    env_dir = tmp_path_factory.mktemp("env") / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)], cwd=env_dir.parent)
    python = env_dir / "bin" / "python"
    # requirements.txt's pins as constraints (pip takes no extras there: jax[cpu] -> jax)
    constraints = env_dir.parent / "constraints.txt"
    pins = [re.sub(r"\[[^\]]*\]", "", line) for line in (ROOT / "requirements.txt").read_text().splitlines()]
    constraints.write_text("\n".join(pins) + "\n")
    run(
        [python, "-m", "pip", "install", "-q", "-c", str(constraints), str(wheel), *NOTEBOOK_TOOLS],
        cwd=env_dir.parent,
        env=clean_env(),
    )
    return python


def test_installed_package_is_the_wheel_and_reads_its_recorded_runs(installed, tmp_path):
    code = (
        "import vitcourse, vitcourse.results as r, vitcourse.exercises.ch01;"
        "print(vitcourse.__file__); print(r.RESULTS_DIR); print(len(r.recorded_runs('equal_budget')))"
    )
    out = run([installed, "-c", code], cwd=tmp_path, env=clean_env(TF_CPP_MIN_LOG_LEVEL="2")).split()
    package_file, results_dir, runs = out[-3:]
    env_dir = installed.parents[1]
    assert Path(package_file).is_relative_to(env_dir), f"vitcourse was imported from {package_file}, not the wheel"
    assert Path(results_dir).is_relative_to(env_dir) and int(runs) > 0
    presets = run([installed.parent / "vitcourse", "presets"], cwd=tmp_path, env=clean_env(TF_CPP_MIN_LOG_LEVEL="2"))
    assert "course_vit" in presets


def test_chapters_run_against_the_installed_wheel(installed, tmp_path):
    chapters = tmp_path / "chapters"
    shutil.copytree(ROOT / "chapters", chapters, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = clean_env(VITCOURSE_MODE="smoke", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    command = [installed, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env", str(chapters)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"a chapter fails against the installed wheel:\n{result.stdout[-6000:]}"
    assert " passed" in result.stdout.splitlines()[-1]
