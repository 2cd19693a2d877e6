"""Fast tier: the trust boundaries of the rendered workflows. Releases and retraining only from the
default branch, no MLflow credential in pull requests, template code never next to a write token,
and every job holding secrets in a deployment environment. act runs show the same in behaviour
(test_workflow_main.py, test_workflow_pr.py, test_template_updates.py)."""

import re

import pytest
import yaml

from .conftest import bake
from .test_workflows_static import ACCEPTED_AUDITOR

DEFAULT_BRANCH = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
# Status functions let a job run although a job it needs was skipped.
STATUS_FUNCTIONS = re.compile(r"\b(always|failure|cancelled)\(\)")
SECRET = re.compile(r"secrets\.(\w+)")
ENVIRONMENTS = {
    ("main.yml", "reproduce"): "release",
    ("main.yml", "release"): "release",
    ("main.yml", "image"): "release",
    ("drift.yml", "retrain"): "retrain",
    ("template-update.yml", "propose"): "template-update",
    ("main.yml", "stage"): "release",
    ("deploy.yml", "aliases"): "release",
    ("production.yml", "propose"): "production",
}


@pytest.fixture(scope="module", params=[{}, {"dvc_remote": "s3", "dvc_remote_url": "s3://acme/dvc", "container_registry": "docker.io"}], ids=["defaults", "s3-dockerhub"])  # fmt: skip
def workflows(request, tmp_path_factory) -> dict[str, dict]:
    project = bake(tmp_path_factory.mktemp("trust"), **request.param)
    return {p.name: yaml.safe_load(p.read_text()) for p in (project.path / ".github/workflows").glob("*.yml")}


def text(node) -> str:
    return yaml.safe_dump(node)


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else value


def test_main_releases_only_from_the_default_branch(workflows):
    jobs = workflows["main.yml"]["jobs"]
    assert jobs["reproduce"]["if"] == DEFAULT_BRANCH
    notice = jobs.pop("not-released")
    assert notice["if"] == DEFAULT_BRANCH.replace("==", "!=")
    assert notice["permissions"] == {} and "secrets." not in text(notice)
    assert "nothing released" in notice["steps"][0]["run"]
    for name, job in jobs.items():  # every other job waits for reproduce, and is skipped with it
        ancestors, todo = {name}, needs(job)
        while todo:
            ancestors.add(parent := todo.pop())
            todo += needs(jobs[parent])
        assert "reproduce" in ancestors, name
        assert not STATUS_FUNCTIONS.search(str(job.get("if", ""))), name


def test_deployments_and_aliases_come_from_the_default_branch_only(workflows):
    """A run of another branch may neither propose production nor set the registry's aliases from
    its own overlays; production's proposal waits for the environment's reviewers."""
    production = workflows["production.yml"]["jobs"]["propose"]
    aliases = workflows["deploy.yml"]["jobs"]["aliases"]
    assert production["if"] == aliases["if"] == DEFAULT_BRANCH
    assert production["environment"] == "production"
    assert production["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert aliases["permissions"] == {"contents": "read"}
    # Only the image job may sign provenance, and it runs no code of the repository.
    image = workflows["main.yml"]["jobs"]["image"]
    assert image["permissions"]["id-token"] == "write" and "uv run" not in text(image)
    assert [name for name, job in workflows["main.yml"]["jobs"].items() if "id-token" in text(job)] == [
        "image"
    ]


def test_drift_retrains_only_on_the_default_branch(workflows):
    # A schedule's event names no repository but always runs on the default branch.
    condition = workflows["drift.yml"]["jobs"]["retrain"]["if"]
    assert condition.endswith(f"&& (github.event_name == 'schedule' || {DEFAULT_BRANCH})"), condition


def test_pull_requests_hold_no_mlflow_credential_and_log_to_the_runner(workflows):
    pr = workflows["pr.yml"]
    assert {name for name in SECRET.findall(text(pr)) if "MLFLOW" in name} == set()
    assert pr["jobs"]["pipeline"]["env"] == {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    assert "vars.MLFLOW" not in text(pr)


def test_template_code_runs_read_only_and_the_write_job_takes_only_its_patch(workflows):
    workflow = workflows["template-update.yml"]
    update, propose = workflow["jobs"]["update"], workflow["jobs"]["propose"]
    assert update["permissions"] == {"contents": "read"}
    assert "secrets." not in text(update) and "GITHUB_ENV" not in text(update)
    # The template runs (cruft update) only at the revision given by hand, never at its newest.
    (cruft,) = [step for step in update["steps"] if step.get("run") == "make template-update"]
    assert cruft["if"] == "inputs.template_ref != ''"
    assert cruft["env"] == {"REF": "${{ inputs.template_ref }}"}
    assert all(step.get("with", {}).get("enable-cache") is not True for step in update["steps"])
    # The write job: only it may write; from `update` it takes its `if:` and the artifact, nothing else.
    writers = [name for name, job in workflow["jobs"].items() if "write" in text(job.get("permissions", {}))]
    assert writers == ["propose"]
    assert propose["needs"] == "update" and propose["if"] == "needs.update.outputs.changed == 'true'"
    assert "needs." not in text(propose["steps"]) and "uv " not in text(propose["steps"])
    download = next(step for step in propose["steps"] if "download-artifact" in step.get("uses", ""))
    assert download["with"]["name"] == "template-update"
    assert any(step.get("run", "").startswith("git apply ") for step in propose["steps"])


def test_jobs_holding_secrets_run_in_their_deployment_environment(workflows):
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            secrets = set(SECRET.findall(text(job))) - {"GITHUB_TOKEN"}
            expected = ENVIRONMENTS.get((file, name))
            assert job.get("environment") == expected, (file, name)
            if secrets and not expected:
                assert ("secrets-outside-env", file, f"jobs.{name}") in ACCEPTED_AUDITOR, (
                    file,
                    name,
                    secrets,
                )
