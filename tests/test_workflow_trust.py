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
    ("main.yml", "launch"): "release",
    ("main.yml", "reproduce"): "release",
    ("main.yml", "release"): "release",
    ("main.yml", "image"): "release",
    ("drift.yml", "retrain"): "retrain",
    ("template-update.yml", "propose"): "template-update",
    ("main.yml", "stage"): "release",
    ("deploy.yml", "aliases"): "release",
    ("production.yml", "propose"): "production",
}


# The cloud runner's token and keys are repository secrets named CML_*; CML reads them under these names.
RUNNER_TOKEN = "CML_RUNNER_TOKEN"
RUNNER_CLOUD_ENV = {
    "aws": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
    "gcp": {"GOOGLE_APPLICATION_CREDENTIALS_DATA"},
    "azure": {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"},
}
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


@pytest.fixture(scope="module", params=[
    {}, {"dvc_remote": "s3", "dvc_remote_url": "s3://acme/dvc", "container_registry": "docker.io"},
    # On a cloud runner: with the S3 remote the DVC secrets share the names CML reads for AWS.
    {"dvc_remote": "s3", "dvc_remote_url": "s3://acme/dvc", "training_runner": "cml"},
    {"dvc_remote": "gcs", "dvc_remote_url": "gs://acme/dvc", "training_runner": "cml"},
], ids=["defaults", "s3-dockerhub", "s3-cml", "gcs-cml"])  # fmt: skip
def workflows(request, tmp_path_factory) -> dict[str, dict]:
    project = bake(tmp_path_factory.mktemp("trust"), **request.param)
    return {p.name: yaml.safe_load(p.read_text()) for p in (project.path / ".github/workflows").glob("*.yml")}


def text(node) -> str:
    return yaml.safe_dump(node)


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else value


def test_main_releases_only_from_the_default_branch(workflows):
    jobs = dict(workflows["main.yml"]["jobs"])
    assert jobs["reproduce"]["if"] == DEFAULT_BRANCH
    notice = jobs.pop("not-released")
    assert notice["if"] == DEFAULT_BRANCH.replace("==", "!=")
    assert notice["permissions"] == {} and "secrets." not in text(notice)
    assert "nothing released" in notice["steps"][0]["run"]
    # training_runner cml: the job that launches reproduce's runner comes first, on the same condition.
    if launch := jobs.pop("launch", None):
        assert launch["if"] == DEFAULT_BRANCH and launch["environment"] == "release"
        assert needs(jobs["reproduce"]) == ["launch"]
    for name, job in jobs.items():  # every other job waits for reproduce, and is skipped with it
        ancestors, todo = {name}, needs(job)
        while todo:
            ancestors.add(parent := todo.pop())
            todo += needs(jobs[parent]) if parent in jobs else []
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


def runner_secrets(job: dict) -> set[str]:
    return {name for name in SECRET.findall(text(job)) if name.startswith("CML_")}


def test_only_the_launch_jobs_hold_the_cloud_runners_token_and_keys(workflows):
    pr, main = workflows["pr.yml"]["jobs"], workflows["main.yml"]["jobs"]
    launches = [(file, name) for file, w in workflows.items() for name in w["jobs"] if name == "launch"]
    if not launches:  # training_runner github: GitHub's runners only, no runner secret anywhere
        assert all(not runner_secrets(job) for w in workflows.values() for job in w["jobs"].values())
        assert pr["pipeline"]["runs-on"] == main["reproduce"]["runs-on"] == "ubuntu-latest"
        return
    assert sorted(launches) == [("main.yml", "launch"), ("pr.yml", "launch")]
    assert pr["launch"]["steps"] == main["launch"]["steps"]
    for launch in (pr["launch"], main["launch"]):
        assert launch["permissions"] == {} and launch["runs-on"] == "ubuntu-latest"
        # It runs no code of the repository.
        assert "actions/checkout" not in text(launch) and "uv " not in text(launch)
        (step,) = [step for step in launch["steps"] if step.get("id") == "launch"]
        assert step["run"].count("cml runner launch --single") == 1
        assert "${{" not in step["run"]
        # Each secret reaches CML under the name CML reads: REPO_TOKEN, and the cloud's own.
        held = {var: value for var, value in step["env"].items() if "secrets." in value}
        assert held.pop("REPO_TOKEN") == f"${{{{ secrets.{RUNNER_TOKEN} }}}}"
        assert set(held) in RUNNER_CLOUD_ENV.values()
        assert all(value == f"${{{{ secrets.CML_{var} }}}}" for var, value in held.items())
        assert runner_secrets(launch) == {RUNNER_TOKEN, *(f"CML_{var}" for var in held)}
        assert launch["outputs"] == {"label": "${{ steps.launch.outputs.label }}"}
    # The training jobs hold none of them, and run on the label the launch job gave.
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            if name != "launch":
                assert not runner_secrets(job), (file, name)
    assert not any(
        var in text(pr["pipeline"])
        for var in ("REPO_TOKEN", *RUNNER_CLOUD_ENV["gcp"], *RUNNER_CLOUD_ENV["azure"])
    )
    assert main["reproduce"]["runs-on"] == "${{ needs.launch.outputs.label }}"
    assert pr["pipeline"]["runs-on"] == "${{ needs.launch.outputs.label || 'ubuntu-latest' }}"


def test_a_forks_pull_request_launches_nothing_and_a_failed_launch_fails_the_check(workflows):
    pr = workflows["pr.yml"]["jobs"]
    if "launch" not in pr:
        return
    assert pr["launch"]["if"] == FORK_GUARD
    pipeline = pr["pipeline"]
    # Runs when the launch was skipped (a fork), on GitHub's runner; a skipped job would pass as a check,
    # so after a failed launch it runs and fails at its first step.
    assert needs(pipeline) == ["launch"] and pipeline["if"] == "${{ !cancelled() }}"
    first = pipeline["steps"][0]
    assert first["if"] == "needs.launch.result == 'failure'" and first["run"].rstrip().endswith("exit 1")
    assert all("needs." not in text(step) for step in pipeline["steps"][1:])
