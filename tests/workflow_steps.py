"""Run one `run:` step of a generated workflow as a GitHub runner does (bash -eo pipefail), with
the env the step would get: for the logic that lives in a workflow and calls no action."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from .conftest import BakedProject


@dataclass
class StepRun:
    result: subprocess.CompletedProcess
    outputs: dict[str, str]
    summary: str


def run_step(project: BakedProject, workflow: str, step_name: str, tmp: Path, **env: str) -> StepRun:
    jobs = yaml.safe_load(project.read(f".github/workflows/{workflow}"))["jobs"]
    ((job, step),) = [(j, s) for j in jobs.values() for s in j["steps"] if s.get("name") == step_name]
    script, outputs, summary = tmp / "step.sh", tmp / "github-output", tmp / "step-summary.md"
    script.write_text(step["run"])
    for path in (outputs, summary):
        path.write_text("")
    runner = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp)}
    result = project.run(
        "bash", "--noprofile", "--norc", "-eo", "pipefail", str(script),
        check=False, **{**job.get("env", {}), **runner, **env},
    )  # fmt: skip
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return StepRun(result, values, summary.read_text())
