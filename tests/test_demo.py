"""`make demo`, the newcomer's first command: short output, one header per step, and a committed project
in which `make metrics-diff` and the `report` command work right away."""

import re
import subprocess

import pytest

from .conftest import TEMPLATE, BakedProject, clean_env

pytestmark = pytest.mark.slow

STEPS = [
    "generate", "setup", "pipeline", "commit", "metrics", "MLflow runs", "registry", "gate",
    "registered versions", "Bento", "simulate", "drift", "drift summary",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", f"DEMO={work / 'demo-model'}"],
        cwd=TEMPLATE, env=clean_env(BENTOML_HOME=str(work / "bentoml")), capture_output=True, text=True,
        timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return BakedProject(work / "demo-model", {}), result


def test_one_header_per_step_and_no_installer_lists(demo):
    _, result = demo
    headers = [line[4:].split(":")[0] for line in result.stdout.splitlines() if line.startswith("--- ")]
    assert headers == STEPS
    output = result.stdout + result.stderr
    assert not re.search(r"^ \+ \S+==", output, re.MULTILINE)  # uv's list of installed packages
    assert not re.search(r"^(Resolved|Installed|Prepared) \d+ packages", output, re.MULTILINE)
    assert len(output.splitlines()) < 150, output


def test_the_drift_summary_does_not_say_no_drift_beside_drifted_columns(demo):
    _, result = demo
    summary = result.stdout.split("--- drift summary", 1)[1]
    if "| **yes** |" in summary:
        assert "### No drift:" not in summary


def test_the_project_is_committed_so_metrics_diff_and_report_work(demo):
    project, _ = demo
    assert project.run("git", "status", "--porcelain").stdout == ""
    assert "dvc.lock" in project.run("git", "ls-files").stdout.split()
    diff = project.run("make", "--no-print-directory", "metrics-diff")
    report = project.run("uv", "run", project.package, "report", "--output", "reports/pr/report.md")
    assert project.has_file("reports/pr/report.md")
    for result in (diff, report):  # main has the metrics to compare with
        assert "failed to load" not in result.stdout + result.stderr
