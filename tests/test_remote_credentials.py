"""The README of a project with a cloud DVC remote says how to give DVC its credentials on a laptop,
and which secrets each workflow reads with the access it needs: main.yml pushes, pr.yml and drift.yml
only pull. The secrets are the ones the generated workflows actually read."""

import re

import pytest
import yaml

from .conftest import bake

REMOTES = {"s3": "s3://acme-ml/dvc", "gcs": "gs://acme-ml/dvc", "azure": "azure://ml/dvc"}
LOCAL_WAYS = {
    "s3": [
        "aws configure",
        "`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`",
        "dvc remote modify --local storage profile",
        "dvc remote modify --local storage access_key_id",
        "dvc remote modify --local storage secret_access_key",
    ],
    "gcs": [
        "gcloud auth application-default login",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "dvc remote modify --local storage credentialpath",
    ],
    "azure": [
        "az login",
        "AZURE_STORAGE_CONNECTION_STRING",
        "dvc remote modify --local storage account_name",
        "dvc remote modify --local storage connection_string",
    ],
}
WORKFLOWS = ("main.yml", "pr.yml", "drift.yml")
HEADING = "## The DVC remote's credentials"


def section(readme: str, heading: str) -> str:
    return readme.split(heading, 1)[1].split("\n## ", 1)[0]


def secrets_read(project) -> dict[str, set[str]]:
    return {
        name: set(re.findall(r"secrets\.(\w+)", project.read(f".github/workflows/{name}")))
        for name in WORKFLOWS
    }


@pytest.fixture(scope="module")
def local_secrets(tmp_path_factory):
    return secrets_read(bake(tmp_path_factory.mktemp("local")))


@pytest.mark.parametrize("remote", REMOTES)
def test_readme_names_the_remote_credentials_and_what_each_workflow_needs(baked, local_secrets, remote):
    project = baked(dvc_remote=remote, dvc_remote_url=REMOTES[remote])
    readme = project.read("README.md")
    text = section(readme, HEADING)
    for way in LOCAL_WAYS[remote]:
        assert way in text, f"{remote}: the README does not say {way!r}"
    assert ".dvc/config.local" in text and "git ignores" in text

    # The remote's secrets: what the workflows read beyond a project with a local remote.
    read = secrets_read(project)
    remote_secrets = {s for name in WORKFLOWS for s in read[name] - local_secrets[name]}
    assert remote_secrets, "no workflow reads the remote's credentials"
    github = text.split("**On GitHub**", 1)[1].split("|", 1)[0]
    for secret in remote_secrets:
        assert f"`{secret}`" in github
        assert all(secret in read[name] for name in WORKFLOWS)  # each workflow reads it, as the README says

    rows = {
        line.split("|")[1].strip(): line.split("|")[-2].strip()
        for line in text.splitlines()
        if line.startswith("| ")
    }
    assert (rows["main.yml"], rows["pr.yml"], rows["drift.yml"]) == ("**write**", "read", "read")
    pushes = {name: "dvc push" in project.read(f".github/workflows/{name}") for name in WORKFLOWS}
    assert pushes == {"main.yml": True, "pr.yml": False, "drift.yml": False}

    # What main.yml reads, in the README's reference: the remote's secrets, with write access.
    releases = readme.split("## Reference: variables, secrets and settings", 1)[1]
    releases = releases.split("### main.yml", 1)[1].split("\n### ", 1)[0]
    assert all(
        "**write**" in line.lower()
        for line in releases.splitlines()
        if any(f"`{s}`" in line for s in remote_secrets)
    )
    assert any(f"`{s}`" in releases for s in remote_secrets)


def test_a_local_remote_needs_no_credentials_section(baked):
    assert HEADING not in baked().read("README.md")


def reaches_the_remote(step: dict) -> bool:
    run = step.get("run", "")
    return "dvc pull" in run or "dvc push" in run or "drift-data" in run or "dvc config" in run


@pytest.mark.parametrize("remote", REMOTES)
def test_with_openid_connect_no_key_is_read_and_the_readme_sets_up_each_identity(
    baked, local_secrets, remote
):
    """cloud_credentials=oidc: the workflows read no cloud secret; each job that reaches the remote
    signs in first, and only those jobs (and the image job, which signs provenance) may ask for an
    OpenID Connect token. The README's one-time cloud commands trust exactly the subjects GitHub
    gives those jobs, and name every variable the sign-in reads."""
    project = baked(
        dvc_remote=remote, dvc_remote_url=REMOTES[remote], cloud_credentials="oidc", github_owner="Acme"
    )
    assert secrets_read(project) == local_secrets  # the remote adds no secret
    text = section(project.read("README.md"), HEADING)
    for subject in ("pull_request", "ref:refs/heads/main", "environment:release"):
        assert f"repo:Acme/{project.path.name}:{subject}" in text, subject
    signing_in = set()
    for name in WORKFLOWS:
        for job_name, job in yaml.safe_load(project.read(f".github/workflows/{name}"))["jobs"].items():
            steps = job.get("steps", [])
            cloud = [i for i, step in enumerate(steps) if step.get("id") == "cloud"]
            remote_steps = [i for i, step in enumerate(steps) if reaches_the_remote(step)]
            if job.get("permissions", {}).get("id-token") == "write" and job_name != "image":
                signing_in.add(f"{name}:{job_name}")
                assert cloud and remote_steps and cloud[0] < remote_steps[0], (name, job_name)
                for variable in re.findall(r"vars\.(\w+)", yaml.safe_dump(steps[cloud[0]])):
                    assert f"`{variable}`" in text, f"the README does not name the variable {variable}"
            else:
                assert not cloud, (name, job_name)
    assert signing_in == {"main.yml:reproduce", "pr.yml:pipeline", "drift.yml:check"}
