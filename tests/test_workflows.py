"""The GitHub Actions workflows, linted offline against the bundled GitHub workflow schema."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINT = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]


def lint(*paths):
    return subprocess.run([*LINT, *map(str, paths)], capture_output=True, text=True)


def test_workflows_are_valid():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "gpu.yml"}
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_catches_a_broken_workflow(tmp_path):
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    workflow["jobs"]["test"]["runs_on"] = workflow["jobs"]["test"].pop("runs-on")  # a typo in a key
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(workflow))
    assert lint(broken).returncode != 0


def test_ci_workflow_runs_the_readme_command():
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["test"]["steps"]
    assert "make test" in [step.get("run", "").strip() for step in steps]
    assert "make test" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("trigger", ["schedule", "workflow_dispatch", "pull_request"])
def test_gpu_workflow_runs_nightly_by_hand_and_on_labelled_pull_requests(trigger):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "gpu.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on:` as True
    assert trigger in triggers
    job = workflow["jobs"]["full-mode"]
    assert job["runs-on"] == ["self-hosted", "gpu"] and job["env"]["VITCOURSE_MODE"] == "full"
    assert "'gpu'" in job["if"]
