"""The generated pr.yml, run for real under act against a recording GitHub API."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from .act_runner import ORIGIN, REPOSITORY, commit_all, git, pull_request_event, run_act
from .conftest import bake
from .fake_github import FakeGitHub
from .mermaid_check import mermaid_blocks, parse
from .params_text import edit as edit_params
from .params_text import suggested_hyperparameters
from .test_workflows_static import assert_zizmor_and_schema_clean

BIN = Path(sys.executable).parent
WORKFLOW = ".github/workflows/pr.yml"
TOKEN = "ghs_pr_test_token"
# A tracking server and its credential configured for the repository: pull requests must use neither
# (nothing listens there, so `evaluate` would fail if it tried).
MLFLOW_CONFIGURED = {"variables": {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, "secrets": {"MLFLOW_TRACKING_PASSWORD": "writes-the-registry"}}  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A generated project whose main branch holds a reproduced pipeline, as its first user would commit it."""
    project = bake(tmp_path_factory.mktemp("pr"), python_version="3.11", project_name="pr demo")
    git(project.path, "remote", "add", "origin", ORIGIN)
    project.run("uv", "lock", "--quiet")
    project.run("uv", "sync", "--quiet")
    project.run("uv", "run", "dvc", "repro")
    commit_all(project.path, "generated, pipeline reproduced")
    return project


def branch(project, name: str, edits: dict[str, tuple[str, str]], *, repro: bool) -> None:
    """A pull request branch off main: each file's `old` text replaced by `new`; `repro` as its author would."""
    git(project.path, "checkout", "-q", "-B", name, "main")
    push(project, edits, repro=repro)


def push(project, edits: dict[str, tuple[str, str]], *, repro: bool) -> None:
    for relative, (old, new) in edits.items():
        text = project.read(relative)
        assert old in text, f"{old!r} not in {relative}"
        (project.path / relative).write_text(text.replace(old, new, 1))
    if repro:
        project.run("uv", "run", "dvc", "repro")
    commit_all(project.path, f"change {', '.join(edits)}")


def metric(project, rev: str, name: str) -> float:
    return json.loads(git(project.path, "show", f"{rev}:metrics.json"))[name]


def act_pr(project, api: FakeGitHub, *, number: int = 7, head_repo: str = REPOSITORY, secrets=True, tmp=None):
    head = git(project.path, "rev-parse", "--abbrev-ref", "HEAD")
    event = pull_request_event(project.path, number, head, head_repo=head_repo)
    return run_act(
        project.path,
        "pull_request",
        event,
        secrets={"GITHUB_TOKEN": TOKEN, **MLFLOW_CONFIGURED["secrets"]} if secrets else {},
        variables={"CML_PUBLISH_URL": api.asset_url, **MLFLOW_CONFIGURED["variables"]} if secrets else {},
        github_api_url=api.url,
        workdir=tmp,
    )


def assert_charts(markdown: str, *, base: bool) -> None:
    """The ROC curve and the feature importances as Mermaid xycharts that mermaid itself parses."""
    charts = mermaid_blocks(markdown)
    assert [c.split('title "')[1].split(" ")[0] for c in charts] == ["ROC", "Feature"], markdown
    assert parse(markdown) == ["ok xychart", "ok xychart"]
    for chart in charts:
        assert ('line "base" [' in chart) == base and ' "this PR" [' in chart
    if base:
        assert "This PR in blue, the base `" in markdown


@pytest.fixture(scope="module")
def two_pushes(project, tmp_path_factory):
    """One pull request: a tuned parameter with results committed, then a second push without them."""
    with FakeGitHub(token=TOKEN) as api:
        branch(project, "tune", {"params.yaml": ("\n    max_depth: 8", "\n    max_depth: 2")}, repro=True)
        api.add_pull(REPOSITORY, 7, head="tune")
        first = act_pr(project, api, tmp=tmp_path_factory.mktemp("act1"))
        first_comments = [dict(c) for c in api.comments(REPOSITORY, 7)]
        first_roc_auc = metric(project, "HEAD", "roc_auc")
        push(project, {"params.yaml": ("\n    n_estimators: 100", "\n    n_estimators: 20")}, repro=False)
        second = act_pr(project, api, tmp=tmp_path_factory.mktemp("act2"))
        yield {
            "first": first,
            "first_comments": first_comments,
            "first_roc_auc": first_roc_auc,
            "second": second,
            "api": api,
        }


@pytest.mark.slow
@pytest.mark.workflow
def test_parameter_change_comments_metrics_and_parameters(project, two_pushes):
    result = two_pushes["first"]
    assert result.returncode == 0, result
    (comment,) = two_pushes["first_comments"]
    base, pr = metric(project, "main", "roc_auc"), two_pushes["first_roc_auc"]
    assert base != pr
    verdict = "better" if pr > base else "worse"
    row = f"| **roc_auc** ↑ | {base:.4g} | {pr:.4g} | {pr - base:+.4g} | {verdict} |"
    body = comment["body"]
    assert row in body, body
    assert "| `train.hyperparameters.max_depth` | 8 | 2 |" in body
    assert "| modified | `models/model.joblib` |" in body
    assert "does not match" not in body  # the author committed what CI reproduces
    assert body.count(two_pushes["api"].asset_url) == 8  # four plots of the PR beside the base's four
    # Charts GitHub draws itself, published images or not: the PR's curves beside main's.
    assert_charts(body, base=True)
    assert '"CML watermark pr-report"' in body
    assert (
        "MLflow: this run was logged to the local store `sqlite:///mlflow.db`, not to a tracking server"
        in body
    )
    assert row in result.summary
    # CI starts without a DVC cache: stages run from source, and DVC restores those whose
    # outputs the earlier ones already reproduced byte for byte (validate, evaluate).
    assert "**Pipeline:** stages run: ingest," in result.summary and ",train" in result.summary
    assert "**Data:** not everything could be pulled from the DVC remote" in result.summary


@pytest.mark.slow
@pytest.mark.workflow
def test_second_push_updates_the_same_comment(project, two_pushes):
    result, api = two_pushes["second"], two_pushes["api"]
    assert result.returncode == 0, result
    (comment,) = api.comments(REPOSITORY, 7)
    assert comment["id"] == two_pushes["first_comments"][0]["id"]
    assert len(api.calls("POST", r"/repos/acme/demo/issues/7/comments")) == 1
    assert len(api.calls("PATCH", rf"/repos/acme/demo/issues/comments/{comment['id']}")) == 1
    assert [call["action"] for call in result.cml_calls] == ["updated"]
    body = comment["body"]
    assert "| `train.hyperparameters.n_estimators` | 100 | 20 |" in body
    assert "| `train.hyperparameters.max_depth` | 8 | 2 |" in body
    # This push did not commit its results: the report says so, and how to fix it.
    assert "The committed `dvc.lock` does not match what CI reproduced" in body
    assert "(stages: train, evaluate)" in body and "> uv run dvc repro\n" in body
    assert all(
        r.headers["Authorization"] == f"token {TOKEN}" for r in api.requests if r.path.startswith("/repos")
    )


@pytest.mark.slow
@pytest.mark.workflow
def test_a_forks_pull_request_changing_the_model_and_seed_stays_green_and_comments_nothing(project, tmp_path):
    # The team switches to another offered model with the hyperparameters params.yaml suggests for
    # it, and another seed: the project's own tests, the pipeline and the report must all follow.
    # From a fork: no secret, no comment, the report in the job summary.
    base = git(project.path, "show", "main:params.yaml")
    hyperparameters = suggested_hyperparameters(base)["gradient_boosting"]
    changed = edit_params(base, {"train": {"model": "gradient_boosting", "hyperparameters": hyperparameters}})
    changed = edit_params(changed, {"train": {"seed": 4}})
    branch(project, "fork-gradient-boosting", {"params.yaml": (base, changed)}, repro=True)
    with FakeGitHub(token=TOKEN) as api:
        result = act_pr(project, api, number=9, head_repo="someone/demo", secrets=False, tmp=tmp_path)
    assert result.returncode == 0, result
    steps = result.steps()
    for step in ("Install", "Lint", "Test", "Reproduce the pipeline", "Report against the base branch"):
        assert steps[step] == "success", steps
    report = result.summary
    assert "| `train.model` | random_forest | gradient_boosting |" in report, report
    assert "| `train.seed` | 42 | 4 |" in report
    for name, value in hyperparameters.items():
        old = yaml.safe_load(base)["train"]["hyperparameters"].get(name)
        if old != value:
            assert f"| `train.hyperparameters.{name}` | {'—' if old is None else old} | {value} |" in report
    assert "| `train.hyperparameters.n_jobs` | 1 | — |" in report  # random_forest's, dropped with it
    primary = yaml.safe_load(base)["evaluate"]["primary_metric"]
    assert f"| **{primary}** " in report
    assert "| modified | `models/model.joblib` |" in report
    assert "does not match" not in report  # the author committed what CI reproduces
    assert "No report comment: this pull request comes from the fork `someone/demo`" in report
    assert "publishing images in the comment is off" in report
    assert_charts(report, base=True)
    assert api.requests == [] and result.cml_calls == []


@pytest.mark.slow
@pytest.mark.workflow
def test_schema_breaking_change_fails_with_the_validation_message(project, tmp_path):
    branch(
        project,
        "narrow-schema",
        {
            "schema.yaml": (
                "mean_radius: {dtype: float, min: 0, max: 60}",
                "mean_radius: {dtype: float, min: 0, max: 10}",
            )
        },
        repro=False,
    )
    with FakeGitHub(token=TOKEN) as api:
        api.add_pull(REPOSITORY, 8, head="narrow-schema")
        result = act_pr(project, api, number=8, tmp=tmp_path)
    assert result.returncode != 0
    assert result.steps()["Reproduce the pipeline"] == "failure"
    assert "### The pipeline failed" in result.summary
    assert "column 'mean_radius' has 522 values outside [0, 10]" in result.summary
    assert "ERROR: failed to reproduce 'validate'" in result.summary
    assert api.requests == [] and result.cml_calls == []


@pytest.mark.parametrize("remote", ["local", "s3", "gcs", "azure"])
def test_pr_workflow_is_zizmor_clean_and_schema_valid(tmp_path, remote):
    workflow = bake(tmp_path, dvc_remote=remote).path / WORKFLOW
    assert_zizmor_and_schema_clean(workflow)
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert jobs["pipeline"]["permissions"] == {"contents": "read"}
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
