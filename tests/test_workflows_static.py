"""Static gate for every workflow: the template's own and those of every answer combination."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE, bake
from .test_render import COMBINATIONS

BIN = Path(sys.executable).parent


def assert_zizmor_and_schema_clean(workflow: Path) -> None:
    """No zizmor finding (default persona) and valid against GitHub's workflow schema."""
    zizmor = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", "--format", "plain", workflow],
        check=False,
        capture_output=True,
        text=True,
    )
    assert zizmor.returncode == 0 and "No findings to report" in zizmor.stdout, zizmor.stdout + zizmor.stderr
    schema = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        check=False,
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


# Pedantic findings accepted on purpose, as (audit, file, place); README.md "Static gate" says why.
# Any other pedantic finding fails the gate, and so does one of these once it is gone.
ACCEPTED_PEDANTIC: set[tuple[str, str, str]] = set()  # none: README.md, "Static gate"

# Auditor findings accepted on purpose, each with its reason: the generated README gives it in
# these words ("Deployment environments"), and README.md "Static gate" sums them up.
ACCEPTED_AUDITOR: dict[tuple[str, str, str], str] = {
    ("secrets-outside-env", "pr.yml", "jobs.pipeline"): (
        "pr.yml's pipeline job reads the DVC remote with the repository secret, which should only read: "
        "an environment limited to the default branch would withhold it from every pull request."
    ),
    ("secrets-outside-env", "pr.yml", "jobs.launch"): (
        "pr.yml's launch job holds the cloud runner's token and the cloud's keys as repository secrets: "
        "an environment limited to the default branch would withhold them from every pull request. It "
        "checks out and runs no code of the pull request, and is skipped for a fork's."
    ),
    ("secrets-outside-env", "drift.yml", "jobs.check"): (
        "drift.yml's check job reads the DVC remote with the same read-only repository secret: it runs "
        "on a schedule, and an environment would record a deployment for every check."
    ),
}


@pytest.fixture(scope="module")
def checked_files(tmp_path_factory) -> list[Path]:
    """Workflows and Dependabot configs (zizmor audits both) of the template and every combination."""
    files = sorted((TEMPLATE / ".github/workflows").glob("*.yml"))
    for index, answers in enumerate(COMBINATIONS):
        project = bake(tmp_path_factory.mktemp(f"combo{index}"), **answers)
        files += sorted((project.path / ".github/workflows").glob("*.yml"))
        files.append(project.path / ".github/dependabot.yml")
    return files


@pytest.fixture(scope="module")
def workflow_files(checked_files) -> list[Path]:
    return [path for path in checked_files if path.parent.name == "workflows"]


def zizmor(files: list[Path], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", *options, *map(str, files)],
        check=False,
        capture_output=True,
        text=True,
    )


def finding_path(finding: dict) -> Path:
    return Path(finding["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"])


def finding_key(finding: dict) -> tuple[str, str, str]:
    location = finding["locations"][0]["symbolic"]
    path = finding_path(finding)
    name = f"template:{path.name}" if path.is_relative_to(TEMPLATE) else path.name
    route = ".".join(str(next(iter(step.values()))) for step in location["route"]["route"])
    return finding["ident"], name, route


def test_there_are_workflows_to_check(workflow_files):
    assert TEMPLATE / ".github/workflows/ci.yml" in workflow_files
    assert any(path.name == "template-update.yml" for path in workflow_files)


def test_zizmor_reports_nothing(checked_files):
    result = zizmor(checked_files, "--format", "plain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_pedantic_reports_only_the_accepted_findings(checked_files):
    result = zizmor(checked_files, "--persona=pedantic", "--format=json")
    found = {finding_key(finding) for finding in json.loads(result.stdout)}
    assert found == ACCEPTED_PEDANTIC, result.stderr


def test_zizmor_auditor_reports_only_the_accepted_findings_and_the_readme_gives_their_reasons(checked_files):
    result = zizmor(checked_files, "--persona=auditor", "--format=json")
    findings = json.loads(result.stdout)
    assert {finding_key(finding) for finding in findings} == set(ACCEPTED_AUDITOR), result.stderr
    for finding in findings:
        readme = finding_path(finding).parents[2] / "README.md"  # <project>/.github/workflows/x.yml
        assert ACCEPTED_AUDITOR[finding_key(finding)] in " ".join(readme.read_text().split()), readme


def test_github_workflow_schema(workflow_files):
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, workflow_files)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
