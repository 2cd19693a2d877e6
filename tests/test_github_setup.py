"""`github setup` and `github doctor` of a generated project against the GitHub REST API stand-in
(tests/fake_github.py: state in memory, every request recorded and checked against GitHub's REST
API description), and the doctor workflow under act.

The commands run from a clone of an installed project with that project's venv, as `make
github-setup` would; the clone's workflows are what they read."""

import base64
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from .act_runner import git, run_act
from .conftest import bake, clean_env
from .fake_github import FakeGitHub

pytestmark = pytest.mark.slow
LOGIN = "your-github-user"  # the answers' github_owner: setup creates the repository under the user
SECRET = "s3cret, with a newline\nand unicode: ünïcode"
KEY_FILE_VALUE = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"


@pytest.fixture(scope="module")
def source(installed):
    return installed("classification")


@pytest.fixture
def clone(source, tmp_path):
    """The generated repository as a new user has it: committed, no remote yet."""
    path = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(source.path), str(path)], check=True)
    git(path, "remote", "remove", "origin")
    return path


@pytest.fixture
def api(tmp_path):
    with FakeGitHub(every_repo_exists=False, git_root=tmp_path / "server", login=LOGIN) as fake:
        fake.users.update({"alice": 7, "bob": 8})
        yield fake
        assert fake.violations == []  # every request was one GitHub's REST API description defines


def cli(source, clone: Path, api: FakeGitHub, *args: str, stdin: str | None = None, **env: str):
    tool = source.path / ".venv/bin" / source.package
    settings = {"GITHUB_API_URL": api.url, "GITHUB_TOKEN": "ghp_user_token", **env}
    environment = clean_env(**{k: v for k, v in settings.items() if v is not None})
    for name in (k for k, v in settings.items() if v is None):
        environment.pop(name, None)
    return subprocess.run(
        [str(tool), "github", *args],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def full_setup_args(tmp_path: Path) -> list[str]:
    key = tmp_path / "app.pem"
    key.write_text(KEY_FILE_VALUE)
    return [
        "setup", "--yes",
        "--var", "MLFLOW_TRACKING_URI=https://mlflow.example.com",
        "--var", "DRIFT_CURRENT=data/current/production.csv",
        "--var", "RETRAIN_ON_DRIFT=true",
        "--secret", "MLFLOW_TRACKING_PASSWORD",
        "--secret", f"retrain:RETRAIN_APP_PRIVATE_KEY={key}",
        "--var", "RETRAIN_APP_ID=12345",
        "--reviewer", "release=alice",
        "--reviewer", "release=bob",
    ]  # fmt: skip


def test_setup_configures_a_new_repository_so_doctor_finds_nothing_and_a_second_setup_writes_nothing(
    source, clone, api, tmp_path
):
    repository = f"{LOGIN}/{source.path.name}"
    args = full_setup_args(tmp_path)
    first = cli(source, clone, api, *args, MLFLOW_TRACKING_PASSWORD=SECRET)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Nothing missing: every workflow has what it needs." in first.stdout
    assert SECRET not in first.stdout + first.stderr and "BEGIN KEY" not in first.stdout + first.stderr

    # The repository was created private under the user, and main pushed to it.
    (create,) = api.calls("POST", "/user/repos")
    assert create.body["name"] == source.path.name and create.body["private"] is True
    bare = api.git_root / LOGIN / f"{source.path.name}.git"
    assert git(bare, "rev-parse", "main") == git(clone, "rev-parse", "HEAD")
    settings = api.settings(repository)
    assert settings.variables == {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "DRIFT_CURRENT": "data/current/production.csv",
        "RETRAIN_ON_DRIFT": "true",
        "RETRAIN_APP_ID": "12345",
    }
    # Secrets arrived sealed for the right key: the stand-in opened them to the original values.
    assert settings.secrets == {"MLFLOW_TRACKING_PASSWORD": SECRET}
    assert settings.environments["retrain"]["secrets"] == {"RETRAIN_APP_PRIVATE_KEY": KEY_FILE_VALUE}
    for put in api.calls("PUT", r".*/secrets/[A-Z_]+"):
        assert set(put.body) == {"encrypted_value", "key_id"} and SECRET not in str(put.body)
        assert len(base64.b64decode(put.body["encrypted_value"])) > 48  # a sealed box: key, MAC, text

    workflows = {p.name for p in (clone / ".github/workflows").glob("*.yml")}
    environments = {"release", "retrain"} | {
        environment
        for environment, workflow in (
            ("template-update", "template-update.yml"),
            ("production", "production.yml"),
        )
        if workflow in workflows
    }
    assert set(settings.environments) == environments
    for name, env in settings.environments.items():
        assert env["deployment_branch_policy"] == {
            "protected_branches": False,
            "custom_branch_policies": True,
        }
        assert [p["name"] for p in env["branch_policies"]] == ["main"]
        assert env["reviewers"] == (
            [{"type": "User", "id": 7}, {"type": "User", "id": 8}] if name == "release" else []
        )

    # main takes pull requests only, and needs the check of pr.yml's pipeline job, by its name.
    pr = yaml.safe_load((clone / ".github/workflows/pr.yml").read_text())
    (ruleset,) = settings.rulesets.values()
    assert ruleset["enforcement"] == "active" and ruleset["conditions"]["ref_name"]["include"] == [
        "~DEFAULT_BRANCH"
    ]
    rules = {rule["type"]: rule.get("parameters") for rule in ruleset["rules"]}
    assert {"pull_request", "deletion", "non_fast_forward"} <= set(rules)
    checks = rules["required_status_checks"]["required_status_checks"]
    assert checks == [{"context": pr["jobs"]["pipeline"]["name"]}]
    # Retraining has a GitHub App; the weekly template update and the deployment pull requests
    # (production.yml and main.yml's stage job) have none: they open pull requests with GITHUB_TOKEN.
    assert settings.workflow_permissions["can_approve_pull_request_reviews"] is bool(
        {"template-update.yml", "production.yml"} & workflows
    )
    assert api.repo(repository).labels["drift"]["color"] == "d93f0b"

    api.requests.clear()
    second = cli(source, clone, api, *args, MLFLOW_TRACKING_PASSWORD="another value")
    assert second.returncode == 0, second.stdout + second.stderr
    assert api.writes() == []
    assert "nothing to change." in second.stdout and "exists: kept" in second.stdout
    assert settings.secrets == {"MLFLOW_TRACKING_PASSWORD": SECRET}


def test_the_readmes_first_commands_take_a_generated_folder_to_a_configured_repository(api, tmp_path):
    """cookiecutter, then the two commands at the top of the README, on a folder never committed."""
    project = bake(tmp_path / "new", project_name="first steps")
    readme = project.read("README.md")
    start = readme.split("## Start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", start, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make setup", "make github-setup"]
    assert re.findall(r"^## .*", readme, re.MULTILINE)[0] == "## Start"
    env = {"GITHUB_API_URL": api.url, "GITHUB_TOKEN": "ghp_user_token", "GIT_AUTHOR_NAME": "Ada",
           "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}  # fmt: skip
    project.run(*commands[0].split(), **env)
    values = "--yes --var MLFLOW_TRACKING_URI=https://mlflow.example.com --var DRIFT_CURRENT=data/current.csv"
    done = project.run(*commands[1].split(), f"ARGS={values}", **env)
    assert "Nothing missing: every workflow has what it needs." in done.stdout, done.stdout
    bare = api.git_root / LOGIN / "first-steps.git"
    assert git(project.path, "status", "--porcelain") == ""  # the generated files and uv.lock, committed
    assert git(bare, "rev-parse", "main") == git(project.path, "rev-parse", "HEAD")
    assert "uv.lock" in git(bare, "ls-tree", "--name-only", "main").split()
    assert git(project.path, "remote", "get-url", "origin") == bare.as_uri()


def test_a_dry_run_and_an_unconfirmed_plan_change_nothing(source, clone, api):
    dry = cli(source, clone, api, "setup", "--dry-run", "--var", "DRIFT_CURRENT=data/current.csv")
    assert dry.returncode == 1, dry.stdout + dry.stderr  # the doctor's verdict: the repository does not exist
    assert "create (private)" in dry.stdout and "create: data/current.csv" in dry.stdout
    assert "dry run: nothing changed." in dry.stdout
    unconfirmed = cli(source, clone, api, "setup", stdin="")
    assert unconfirmed.returncode == 2
    assert unconfirmed.stderr.strip().splitlines() == [
        "error: not a terminal, so nothing to confirm the plan with: pass --yes to apply it."
    ]
    assert api.writes() == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--secret", "NOT_A_SECRET"], {}, "no workflow reads the secret 'NOT_A_SECRET'; they read "),
        (["--var", "NOPE=1"], {}, "no workflow reads the variable 'NOPE'; they read "),
        (
            ["--var", "DRIFT_CURRENT"],
            {},
            "--var 'DRIFT_CURRENT' is not NAME=VALUE; write it as --var NAME=VALUE.",
        ),
        (
            ["--secret", "MLFLOW_TRACKING_TOKEN"],
            {},
            "--secret MLFLOW_TRACKING_TOKEN: set the environment variable",
        ),
        (
            ["--secret", "MLFLOW_TRACKING_TOKEN"],
            {"MLFLOW_TRACKING_TOKEN": " "},
            "the secret MLFLOW_TRACKING_TOKEN would be empty",
        ),
        (
            ["--secret", "prod:MLFLOW_TRACKING_TOKEN=x"],
            {},
            "no job runs in the environment 'prod'; they use production, release, retrain",
        ),
        (["--reviewer", "release=nobody-here"], {}, "no GitHub user 'nobody-here'; name an existing login"),
    ],
)
def test_bad_arguments_are_one_sentence_and_write_nothing(source, clone, api, args, env, message):
    result = cli(source, clone, api, "setup", "--yes", *args, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}")
    assert api.writes() == []


def test_a_token_without_a_permission_is_told_which_one(source, clone, api, tmp_path):
    assert (
        cli(source, clone, api, *full_setup_args(tmp_path), MLFLOW_TRACKING_PASSWORD=SECRET).returncode == 0
    )
    api.denied.add("secrets")
    api.requests.clear()
    result = cli(
        source,
        clone,
        api,
        "setup",
        "--yes",
        "--secret",
        "MLFLOW_TRACKING_USERNAME",
        MLFLOW_TRACKING_USERNAME="ci",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cannot read the repository's secrets: GitHub answered 403 to GET /actions/secrets: "
        "Resource not accessible by personal access token; the token needs the permission secrets: read."
    ]
    assert api.writes() == []
    # The doctor checks what it can read and names what it could not.
    doctor = cli(source, clone, api, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert (
        "Not checked, the token may not read them:" in doctor.stdout
        and "secrets: GitHub answered 403" in doctor.stdout
    )


def test_a_repository_of_an_organisation_is_created_in_it_and_public_on_request(source, clone, api):
    api.login, api.users["ada"] = "ada", 9  # the token's user is not the owner the answers name
    result = cli(source, clone, api, "setup", "--yes", "--public", "--var", "DRIFT_CURRENT=data/current.csv")
    assert result.returncode == 1, result.stdout + result.stderr  # the doctor: MLFLOW_TRACKING_URI is unset
    assert "create (public) under your-github-user" in result.stdout
    assert api.calls("POST", "/user/repos") == []
    (create,) = api.calls("POST", f"/orgs/{LOGIN}/repos")
    assert create.body["private"] is False
    assert "no MLFLOW_TRACKING_URI" in result.stdout


def test_the_github_cli_login_is_used_without_github_token(source, clone, api, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"  # a stand-in for the GitHub CLI: `gh auth token` prints the stored login's token
    gh.write_text('#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo gho_from_the_cli && exit 0\nexit 1\n')
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    api.token = "gho_from_the_cli"
    path = f"{bin_dir}:{os.environ['PATH']}"
    result = cli(source, clone, api, "doctor", GITHUB_TOKEN=None, PATH=path)
    assert result.returncode == 1 and "the repository does not exist" in result.stdout, result.stderr
    assert {r.headers["Authorization"] for r in api.requests} == {"Bearer gho_from_the_cli"}
    nothing = cli(source, clone, api, "doctor", GITHUB_TOKEN=None, PATH=os.environ["PATH"])
    assert nothing.stderr.strip().splitlines() == [
        "error: no GitHub token: set GITHUB_TOKEN, or log in with the GitHub CLI (`gh auth login`)."
    ]


def unset(settings, *, variable=None, environment=None, ruleset=False, permission=False):
    if variable:
        del settings.variables[variable]
    if environment:
        del settings.environments[environment]
    if ruleset:
        settings.rulesets.clear()
    if permission:
        settings.workflow_permissions["can_approve_pull_request_reviews"] = False


# Each item the doctor checks, taken away in turn from a configured repository, with what it says.
MISSING = {
    "no tracking server": (
        {"variable": "MLFLOW_TRACKING_URI"},
        "drift.yml, main.yml: no MLFLOW_TRACKING_URI: each run registers into a SQLite file on the runner",
    ),
    "no current data": (
        {"variable": "DRIFT_CURRENT"},
        "drift.yml: no DRIFT_CURRENT and no drift.current: the scheduled check stops at once.",
    ),
    "no environment": (
        {"environment": "release"},
        "deploy.yml, main.yml: no environment release: GitHub creates it, unprotected, at the first run",
    ),
    "no branch protection": (
        {"ruleset": True},
        'pr.yml: main does not require the check "Test, reproduce and report": a pull request can merge',
    ),
    "no app and no permission": (
        {"variable": "RETRAIN_APP_ID", "permission": True},
        "drift.yml: Actions may not create pull requests and no GitHub App or token is configured",
    ),
}


def test_doctor_names_each_missing_item_and_what_follows_from_it(source, clone, api, tmp_path):
    assert (
        cli(source, clone, api, *full_setup_args(tmp_path), MLFLOW_TRACKING_PASSWORD=SECRET).returncode == 0
    )
    settings = api.settings(f"{LOGIN}/{source.path.name}")
    for case, (change, expected) in MISSING.items():
        saved = (
            dict(settings.variables),
            dict(settings.environments),
            dict(settings.rulesets),
            dict(settings.workflow_permissions),
        )
        unset(settings, **change)
        result = cli(source, clone, api, "doctor")
        assert result.returncode == 1, f"{case}: {result.stdout}{result.stderr}"
        assert f"- {expected}" in result.stdout, case
        settings.variables, settings.environments, settings.rulesets = saved[0], saved[1], saved[2]
        settings.workflow_permissions = saved[3]
    assert cli(source, clone, api, "doctor").returncode == 0


@pytest.mark.workflow
def test_the_doctor_workflow_writes_its_report_to_the_job_summary(source, clone, api, tmp_path):
    """Run by hand with the workflow's own token: the variables come from `vars`, secrets are not
    readable, and what is missing is in the summary."""
    assert (
        cli(source, clone, api, *full_setup_args(tmp_path), MLFLOW_TRACKING_PASSWORD=SECRET).returncode == 0
    )
    repository = f"{LOGIN}/{source.path.name}"
    api.settings(repository).rulesets.clear()
    api.denied |= {"secrets", "variables", "administration"}  # what GITHUB_TOKEN may not read
    git(clone, "remote", "set-url", "origin", f"https://github.com/{repository}.git")
    variables = dict(api.settings(repository).variables)
    del variables["DRIFT_CURRENT"]
    result = run_act(
        clone,
        "workflow_dispatch",
        {"inputs": {}, "repository": {"full_name": repository, "default_branch": "main"}},
        workflow=".github/workflows/doctor.yml",
        secrets={"GITHUB_TOKEN": "ghs_workflow_token"},
        variables=variables,
        github_api_url=api.url,
        workdir=tmp_path / "act",
    )
    assert result.returncode != 0, result  # something is missing: the run fails, and says what
    assert result.steps()["Report what is missing"] == "failure", result
    assert "drift.yml: no DRIFT_CURRENT and no drift.current" in result.summary, result
    assert 'main does not require the check "Test, reproduce and report"' in result.summary, result
    assert "Not checked, the token may not read them:" in result.summary, result
    assert {r.headers["Authorization"] for r in api.requests[-5:]} == {"Bearer ghs_workflow_token"}
