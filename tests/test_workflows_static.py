"""Static gate for every workflow: the template's own and those of every answer combination."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE, bake
from .test_render import COMBINATIONS

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def workflow_files(tmp_path_factory) -> list[Path]:
    files = sorted((TEMPLATE / ".github/workflows").glob("*.yml"))
    for index, answers in enumerate(COMBINATIONS):
        project = bake(tmp_path_factory.mktemp(f"combo{index}"), **answers)
        files += sorted((project.path / ".github/workflows").glob("*.yml"))
    return files


def test_there_are_workflows_to_check(workflow_files):
    assert TEMPLATE / ".github/workflows/ci.yml" in workflow_files


def test_zizmor_reports_nothing(workflow_files):
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", "--format", "plain", *map(str, workflow_files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_github_workflow_schema(workflow_files):
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, workflow_files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
