"""What this repository asks of its GitHub settings, read from the repository itself: the variables,
secrets and deployment environments its workflows use, and the answers it was generated with."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WORKFLOWS = Path(".github/workflows")
REFERENCE = re.compile(r"\b(vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)")
PR_WORKFLOW, PR_JOB = "pr.yml", "pipeline"  # the check a pull request must pass before it merges
# Generated with these answers; .cruft.json (kept by template updates) wins when present.
ANSWERS = {
    "github_owner": "{{ cookiecutter.github_owner }}",
    "project_slug": "{{ cookiecutter.project_slug }}",
    "description": {{ cookiecutter.description | tojson }},
    "dvc_remote": "{{ cookiecutter.dvc_remote }}",
    "cloud_credentials": "{{ cookiecutter.cloud_credentials }}",
    "container_registry": "{{ cookiecutter.container_registry }}",
    "mlflow_tracking_uri": "{{ cookiecutter.mlflow_tracking_uri }}",
}


@dataclass
class Job:
    workflow: str
    name: str
    environment: str | None
    variables: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)


@dataclass
class Needs:
    jobs: list[Job]
    answers: dict
    required_check: str  # the PR workflow's job name, as GitHub names its check run

    @property
    def variables(self) -> set[str]:
        return {name for job in self.jobs for name in job.variables}

    @property
    def secrets(self) -> set[str]:
        return {name for job in self.jobs for name in job.secrets}

    @property
    def environments(self) -> set[str]:
        return {job.environment for job in self.jobs if job.environment}

    @property
    def repository(self) -> str:
        return f"{self.answers['github_owner']}/{self.answers['project_slug']}"

    def workflows_using(self, name: str) -> list[str]:
        return sorted({job.workflow for job in self.jobs if name in job.variables | job.secrets})


def read(root: Path = Path(".")) -> Needs:
    jobs, check = [], PR_JOB
    for path in sorted((root / WORKFLOWS).glob("*.y*ml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for job_id, job in (workflow.get("jobs") or {}).items():
            environment = job.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name")
            # The workflow's own `env:` reaches every job.
            found = REFERENCE.findall(json.dumps([workflow.get("env"), job]))
            jobs.append(
                Job(
                    path.name,
                    job_id,
                    environment,
                    {name for kind, name in found if kind == "vars"},
                    {name for kind, name in found if kind == "secrets" and name != "GITHUB_TOKEN"},
                )
            )
            if (path.name, job_id) == (PR_WORKFLOW, PR_JOB):
                check = job.get("name") or job_id
    return Needs(jobs, answers(root), check)


def answers(root: Path = Path(".")) -> dict:
    cruft = root / ".cruft.json"
    context = {}
    if cruft.is_file():
        context = json.loads(cruft.read_text(encoding="utf-8")).get("context", {}).get("cookiecutter", {})
    return {key: context.get(key, default) for key, default in ANSWERS.items()}
