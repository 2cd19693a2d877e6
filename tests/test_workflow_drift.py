"""The generated drift.yml, run for real under act against a recording GitHub API and a local origin.

One project serves every run, in order: a manual run with no current data configured, a drifted
scheduled run (the issue is opened), a drifted manual run from another branch that asks for
retraining (the issue is commented on; nothing is retrained off the default branch), a clean run with the DVC remote out of
reach (the reference is reproduced; nothing is opened), and drifted runs with retraining on after
the source gained rows (a pull request is opened with the workflow's token, then updated with a
GitHub App's). The project's `origin` is a bare repository on this machine whose path ends in
github.com/acme/demo.git: act reads `acme/demo` from it, and the workflow's push lands in it.
"""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .act_runner import REPOSITORY, commit_all, git, run_act
from .conftest import bake
from .fake_github import FakeGitHub
from .test_workflows_static import assert_zizmor_and_schema_clean

BIN = Path(sys.executable).parent
WORKFLOW = ".github/workflows/drift.yml"
TOKEN = "ghs_drift_workflow_token"
APP_TOKEN = "ghs_drift_app_token"
PRIVATE_KEY = "\n".join(  # the shape of a key; the stand-in signs nothing
    (
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9",
        "-----END RSA PRIVATE KEY-----",
    )
)
# Production data far from the training data: half the columns moved by three standard deviations.
SHIFTED = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity", "symmetry")
SHIFTS = [f"{kind}_{name}:mean=3" for kind in ("mean", "worst") for name in SHIFTED]
BRANCH = "retrain-on-drift"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A generated project whose source is a CSV outside the repository (as a warehouse table would
    be), with the pipeline reproduced and pushed to a DVC remote on this machine, drifted current
    data tracked by DVC, clean current data in git, and a bare repository as its origin."""
    root = tmp_path_factory.mktemp("drift")
    project = bake(
        root, python_version="3.11", project_name="drift demo", dvc_remote_url=str(root / "storage")
    )
    package = project.package
    project.run("uv", "lock", "--quiet")
    project.run("uv", "sync", "--quiet")
    project.run("uv", "run", package, "ingest")
    source = root / "source.csv"
    shutil.copy(project.path / "data/raw/dataset.csv", source)
    params = project.path / "params.yaml"
    text, found = re.subn(r"(?m)^  source: \S+", f"  source: {source}", params.read_text())
    assert found == 1
    params.write_text(text)
    project.run("uv", "run", "dvc", "repro")
    project.run("uv", "run", package, "simulate", "--rows", "300", "--out", "data/current/drifted.csv",
                *(arg for shift in SHIFTS for arg in ("--shift", shift)))  # fmt: skip
    project.run("uv", "run", "dvc", "add", "data/current/drifted.csv")
    shutil.copy(project.path / "data/processed/test.csv", project.path / "data/current/clean.csv")
    project.run("uv", "run", "dvc", "push")
    origin = root / "server/github.com/acme/demo.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    git(project.path, "remote", "add", "origin", str(origin))
    commit_all(project.path, "generated, source outside the repository, pipeline reproduced")
    git(project.path, "push", "--quiet", "origin", "main")
    project.source, project.storage, project.origin = source, root / "storage", origin
    return project


# A manual run started from a branch that is not the default one, asking for retraining.
FROM_OTHER_BRANCH = {
    "inputs": {"retrain": "true"},
    "ref": "refs/heads/experiment",
    "repository": {"full_name": REPOSITORY, "name": "demo", "default_branch": "main"},
}


def act_drift(project, api: FakeGitHub, tmp: Path, *, event: str = "schedule", payload=None, variables=None,
              secrets=None, env=None):  # fmt: skip
    if payload is None:
        payload = {"schedule": project.answers["drift_schedule"]} if event == "schedule" else {"inputs": {}}
    return run_act(
        project.path,
        event,
        payload,
        workflow=WORKFLOW,
        secrets={"GITHUB_TOKEN": TOKEN, **(secrets or {})},
        variables=variables or {},
        env=env,
        github_api_url=api.url,
        workdir=tmp,
    )


def origin_git(project, *args: str) -> str:
    return git(project.path, "--git-dir", str(project.origin), *args)


@pytest.fixture(scope="module")
def runs(project, tmp_path_factory):
    """Every run against one recording API, in order; the requests each run made are kept apart."""
    results, requests = {}, {}
    drifted = {"DRIFT_CURRENT": "data/current/drifted.csv"}
    with FakeGitHub() as api:

        def run(name: str, **options):
            before = len(api.requests)
            results[name] = act_drift(project, api, tmp_path_factory.mktemp(name), **options)
            requests[name] = api.requests[before:]
            return results[name]

        run("unconfigured", event="workflow_dispatch")
        run("first", variables=drifted)
        results["first_issue"] = json.loads(json.dumps(api.issues(REPOSITORY)))
        retrain_asked = {**drifted, "RETRAIN_ON_DRIFT": "true"}
        run("second", event="workflow_dispatch", payload=FROM_OTHER_BRANCH, variables=retrain_asked)
        project.storage.rename(project.storage.with_name("storage-away"))  # the remote out of reach
        try:
            run("clean", variables={"DRIFT_CURRENT": "data/current/clean.csv"})
        finally:
            project.storage.with_name("storage-away").rename(project.storage)
        # The source gains rows, as a warehouse table does; nothing in the repository changes.
        with project.source.open() as handle:
            rows = list(csv.reader(handle))
        with project.source.open("a", newline="") as handle:
            csv.writer(handle).writerows(rows[1:101])
        retrain = {**drifted, "RETRAIN_ON_DRIFT": "true"}
        run("retrain", variables=retrain)
        results["retrain_pull"] = json.loads(json.dumps(api.pulls(REPOSITORY)))
        results["retrain_commit"] = origin_git(project, "rev-parse", BRANCH)
        app = {"variables": {**retrain, "RETRAIN_APP_ID": "4242"}, "env": {"STANDIN_APP_TOKEN": APP_TOKEN}}
        run("retrain_app", secrets={"RETRAIN_APP_PRIVATE_KEY": PRIVATE_KEY}, **app)
        yield {"api": api, "requests": requests, **results}


def auth(request) -> str:
    return request.headers.get("Authorization", "")


@pytest.mark.slow
@pytest.mark.workflow
def test_no_current_data_fails_with_one_clear_line(runs):
    result = runs["unconfigured"]
    assert result.returncode != 0
    assert result.steps()["Get the current data and the reference"] == "failure"
    message = (
        "no current data is configured, so there is nothing to check; "
        "set the repository variable DRIFT_CURRENT"
    )
    assert f"error: {message}" in result.stdout
    assert f"**Current data:** {message}" in result.summary
    assert runs["requests"]["unconfigured"] == []


@pytest.mark.slow
@pytest.mark.workflow
def test_first_drift_opens_one_labelled_issue_with_the_report(runs):
    result = runs["first"]
    assert result.returncode == 0, result
    report = (result.artifacts / "drift-report/drift.md").read_text()
    assert report.startswith("### ⚠️ Drift detected:")
    assert report in result.summary  # the report is the job summary too
    current = "`data/current/drifted.csv` (repository variable `DRIFT_CURRENT`), pulled from the DVC remote."
    assert f"**Current data:** {current}" in result.summary
    assert (
        "**Reference:** `data/processed/train.csv` and `models/model.joblib` pulled from the DVC remote"
        in result.summary
    )
    assert {"drift.json", "drift.md", "drift.html"} <= {
        p.name for p in (result.artifacts / "drift-report").iterdir()
    }
    (issue,) = runs["first_issue"]
    assert issue["title"] == "Data drift detected"
    assert [label["name"] for label in issue["labels"]] == ["drift"]
    assert issue["body"].startswith(
        report.rstrip("\n")
        + "\n\nFound by [this run of the drift workflow](https://github.com/acme/demo/actions/runs/"
    )
    assert (
        result.steps().get("Push the branch and open or update the pull request") is None
    )  # retrain skipped
    calls = [(r.method, r.path) for r in runs["requests"]["first"]]
    assert calls == [
        ("GET", "/repos/acme/demo/labels/drift"),
        ("POST", "/repos/acme/demo/labels"),
        ("GET", "/repos/acme/demo/issues"),
        ("POST", "/repos/acme/demo/issues"),
    ]
    assert all(auth(r) == f"Bearer {TOKEN}" for r in runs["requests"]["first"])
    assert f"**Drift issue:** opened issue #{issue['number']}" in result.summary


@pytest.mark.slow
@pytest.mark.workflow
def test_second_drift_comments_on_the_open_issue_and_another_branch_retrains_nothing(runs):
    result, api = runs["second"], runs["api"]
    assert result.returncode == 0, result
    (issue,) = runs["first_issue"]
    assert [i["number"] for i in api.issues(REPOSITORY)] == [issue["number"]]  # still one issue
    calls = [(r.method, r.path) for r in runs["requests"]["second"]]
    assert calls == [
        ("GET", "/repos/acme/demo/labels/drift"),
        ("GET", "/repos/acme/demo/issues"),
        ("POST", f"/repos/acme/demo/issues/{issue['number']}/comments"),
    ]
    comment = runs["requests"]["second"][-1].body["body"]
    assert comment.startswith("### ⚠️ Drift detected:")
    assert f"**Drift issue:** commented on issue #{issue['number']}" in result.summary
    # Started from another branch, retraining asked for twice: it stays the default branch's job
    # (and the calls above hold no pull request).
    assert "Retrain on the source's current data" not in result.steps()


@pytest.mark.slow
@pytest.mark.workflow
def test_clean_run_opens_nothing_and_says_where_the_reference_came_from(runs):
    result = runs["clean"]
    assert result.returncode == 0, result
    assert "### No drift:" in result.summary or "### No dataset drift:" in result.summary  # none, or too few
    assert (
        "**Reference:** reproduced from source with `dvc repro split train`, as the DVC remote could not "
        "be used (the remote does not have them: not pushed yet, or a remote this runner cannot reach). "
        "It is the training data dvc.lock records."
    ) in result.summary
    steps = result.steps()
    assert (
        "Open the issue or comment on it" not in steps and "Retrain on the source's current data" not in steps
    )
    assert runs["requests"]["clean"] == []


@pytest.mark.slow
@pytest.mark.workflow
def test_retraining_pushes_the_branch_and_opens_a_pull_request(project, runs):
    result = runs["retrain"]
    assert result.returncode == 0, result
    (pull,) = runs["retrain_pull"]
    assert (pull["title"], pull["head"]["ref"], pull["base"]["ref"]) == (
        "Retrain on new data after drift", BRANCH, "main",
    )  # fmt: skip
    main, commit = origin_git(project, "rev-parse", "main"), runs["retrain_commit"]
    assert origin_git(project, "rev-parse", f"{commit}^") == main
    assert origin_git(project, "log", "-1", "--format=%an", commit) == "github-actions[bot]"
    changed = set(origin_git(project, "diff", "--name-only", main, commit).splitlines())
    assert "dvc.lock" in changed and changed <= {"dvc.lock", "metrics.json", "plots/confusion_matrix.png",
                                                 "plots/feature_importance.png", "plots/precision_recall.png",
                                                 "plots/roc_curve.png", "plots/roc_curve.csv",
                                                 "plots/feature_importance.csv"}  # fmt: skip
    old, new = (yaml.safe_load(origin_git(project, "show", f"{rev}:dvc.lock")) for rev in (main, commit))
    raw = [o for o in new["stages"]["ingest"]["outs"] if o["path"] == "data/raw/dataset.csv"]
    assert raw[0]["md5"] != old["stages"]["ingest"]["outs"][0]["md5"]
    assert new["stages"]["ingest"]["deps"] == old["stages"]["ingest"]["deps"]  # the code did not change
    body = pull["body"]
    assert "| modified | `data/raw/dataset.csv` | — → 669 |" in body
    assert "| **roc_auc** ↑ |" in body
    assert "Opened with the workflow's GITHUB_TOKEN, so GitHub started no checks for it" in body
    pr_calls = [r for r in runs["requests"]["retrain"] if "/pulls" in r.path]
    assert [(r.method, r.path) for r in pr_calls] == [
        ("GET", "/repos/acme/demo/pulls"),
        ("POST", "/repos/acme/demo/pulls"),
    ]
    assert pr_calls[0].query["head"] == [f"acme:{BRANCH}"]
    assert all(auth(r) == f"Bearer {TOKEN}" for r in runs["requests"]["retrain"])
    assert f"**Retraining:** opened pull request #{pull['number']}" in result.summary
    # The same run also commented on the drift issue: still one issue.
    assert len(runs["api"].issues(REPOSITORY)) == 1


@pytest.mark.slow
@pytest.mark.workflow
def test_a_github_app_token_updates_the_same_pull_request(project, runs):
    result, api = runs["retrain_app"], runs["api"]
    assert result.returncode == 0, result
    (pull,) = api.pulls(REPOSITORY)
    assert pull["number"] == runs["retrain_pull"][0]["number"]
    pr_calls = [r for r in runs["requests"]["retrain_app"] if "/pulls" in r.path]
    assert [(r.method, r.path) for r in pr_calls] == [
        ("GET", "/repos/acme/demo/pulls"), ("PATCH", f"/repos/acme/demo/pulls/{pull['number']}"),
    ]  # fmt: skip
    assert all(auth(r) == f"Bearer {APP_TOKEN}" for r in pr_calls)
    issue_calls = [r for r in runs["requests"]["retrain_app"] if "/pulls" not in r.path]
    assert issue_calls and all(auth(r) == f"Bearer {TOKEN}" for r in issue_calls)  # the issue job's own token
    assert "GITHUB_TOKEN" not in pull["body"]  # an App's pull request runs pr.yml
    commit = origin_git(project, "rev-parse", BRANCH)
    assert commit != runs["retrain_commit"]  # force-pushed with the new run's results
    assert origin_git(project, "rev-parse", f"{commit}^") == origin_git(project, "rev-parse", "main")
    assert f"**Retraining:** updated pull request #{pull['number']}" in result.summary
    assert APP_TOKEN not in result.stdout  # masked


@pytest.mark.parametrize("remote", ["local", "s3", "gcs", "azure"])
def test_drift_workflow_is_zizmor_clean_and_schema_valid(tmp_path, remote):
    project = bake(tmp_path, dvc_remote=remote, drift_schedule="17 3 * * 2,5")
    workflow = project.path / WORKFLOW
    assert_zizmor_and_schema_clean(workflow)
    loaded = yaml.safe_load(workflow.read_text())
    assert loaded[True]["schedule"] == [{"cron": "17 3 * * 2,5"}]  # YAML reads the key `on` as True
    assert loaded["permissions"] == {}
    jobs = loaded["jobs"]
    assert jobs["check"]["permissions"] == {"contents": "read"}
    assert jobs["issue"]["permissions"] == {"issues": "write"}
    assert jobs["retrain"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    for job in jobs.values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step  # untrusted input reaches `run:` through env only


def test_app_token_stand_in_checks_its_inputs_as_the_action_does(tmp_path):
    script = Path(__file__).parent / "standins/actions/create-github-app-token/token.py"

    def run(**inputs: str) -> subprocess.CompletedProcess:
        env = {
            "PATH": "/usr/bin:/bin",
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "INPUT_APP_ID": "", "INPUT_PRIVATE_KEY": "", "INPUT_OWNER": "", "INPUT_REPOSITORIES": "",
            "INPUT_SKIP_TOKEN_REVOKE": "false", "PERMISSIONS": "contents=write pull-requests=",
            **inputs,
        }  # fmt: skip
        return subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=False)

    assert "Input required and not supplied: app-id" in run(INPUT_PRIVATE_KEY=PRIVATE_KEY).stdout
    assert "Input required and not supplied: private-key" in run(INPUT_APP_ID="1").stdout
    assert "not a PEM-encoded private key" in run(INPUT_APP_ID="1", INPUT_PRIVATE_KEY="secret").stdout
    bad = run(INPUT_APP_ID="1", INPUT_PRIVATE_KEY=PRIVATE_KEY, PERMISSIONS="contents=all")
    assert bad.returncode == 1 and "permission-contents must be read, write or admin" in bad.stdout
    good = run(INPUT_APP_ID="1", INPUT_PRIVATE_KEY=PRIVATE_KEY)
    assert good.returncode == 0, good.stdout
    token = (tmp_path / "output").read_text().splitlines()[0].removeprefix("token=")
    assert token.startswith("ghs_") and f"::add-mask::{token}" in good.stdout
