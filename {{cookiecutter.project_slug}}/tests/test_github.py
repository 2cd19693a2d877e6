"""The GitHub client, the drift issue and the retraining pull request, against a small GitHub REST
API on loopback (state in memory, every request recorded) and, for the push, a bare git repository."""

import json
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import drift_issue, proposal, retrain
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.github import GitHub

# The client.


def test_request_sends_the_token_and_json_and_reads_the_answer(api):
    answer = GitHub().request("POST", "/labels", {"name": "drift", "color": "d93f0b"})
    assert answer == {"name": "drift", "color": "d93f0b"}
    method, path, _, headers, body = api.requests[0]
    assert (method, path, body) == ("POST", f"/repos/{api.repo}/labels", {"name": "drift", "color": "d93f0b"})
    assert headers["Authorization"] == f"Bearer {api.token}"
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-Github-Api-Version"] == "2022-11-28"


def test_an_error_answer_is_one_sentence_with_githubs_message_and_the_likely_cause(api):
    denied = {"message": "Resource not accessible by integration"}
    api.fail[("POST", f"/repos/{api.repo}/issues")] = (403, denied)
    with pytest.raises(UserError) as caught:
        GitHub().request("POST", "/issues", {"title": "x"})
    assert str(caught.value) == (
        "GitHub answered 403 to POST /issues: Resource not accessible by integration; the token lacks a "
        "permission this needs (the job's `permissions:`), or a setting forbids it."
    )
    assert GitHub().request("GET", "/labels/none", accept=(404,)) is None


def test_validation_errors_are_named(api):
    errors = [{"resource": "PullRequest", "message": "No commits between main and retrain-on-drift"}]
    api.fail[("POST", f"/repos/{api.repo}/pulls")] = (422, {"message": "Validation Failed", "errors": errors})
    with pytest.raises(UserError, match=r"Validation Failed \(No commits between main and retrain-on-drift"):
        GitHub().request("POST", "/pulls", {})


def test_an_unreachable_api_and_a_missing_token_are_user_errors(monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/demo")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(UserError, match="GITHUB_TOKEN is not set"):
        GitHub()
    github = GitHub(api_url="http://127.0.0.1:9", token="ghs_test", timeout=5)
    with pytest.raises(UserError, match=r"could not reach the GitHub API at http://127.0.0.1:9"):
        github.request("GET", "/issues")


def test_list_reads_every_page(api):
    for _ in range(130):
        api.add(title="old", labels=["drift"])
    assert len(GitHub().list("/issues", {"state": "open", "labels": "drift"})) == 130
    pages = [(q["per_page"], q["page"]) for _, _, q, *_ in api.requests]
    assert pages == [(["100"], ["1"]), (["100"], ["2"])]


# The drift issue.


def write_report(directory: Path, drifted: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    head = "### ⚠️ Drift detected: 3 of 4 columns drifted." if drifted else "### No drift: 0 of 4 columns."
    (directory / "drift.md").write_text(f"{head}\n\n| column | drifted |\n|---|---|\n| bmi | **yes** |\n")
    (directory / "drift.json").write_text(json.dumps({"drift_detected": drifted}))
    return directory / "drift.md"


def test_first_drift_opens_a_labelled_issue_with_the_report(api, actions, tmp_path):
    report = write_report(tmp_path / "reports")
    assert drift_issue.run(str(report)) == 0
    assert api.calls() == [
        ("GET", "/labels/drift"), ("POST", "/labels"), ("GET", "/issues"), ("POST", "/issues"),
    ]  # fmt: skip
    (issue,) = api.issues.values()
    assert issue["title"] == "Data drift detected" and issue["labels"] == [{"name": "drift"}]
    assert issue["body"] == report.read_text() + (
        "\nFound by [this run of the drift workflow](https://github.com/acme/demo/actions/runs/77); "
        "its `drift-report` artifact holds drift.html with every column's distributions.\n"
    )
    outputs, summary = actions()
    assert outputs == {"issue": "1", "action": "opened"}
    assert "**Drift issue:** opened issue #1 (https://github.com/acme/demo/issues/1)." in summary


def test_later_drift_comments_on_the_oldest_open_issue_and_ignores_pull_requests(api, actions, tmp_path):
    api.labels["drift"] = {"name": "drift"}
    api.add(title="Retrain", labels=["drift"], pull_request={})
    api.add(title="Data drift detected", labels=["drift"])
    api.add(title="Labelled by hand later", labels=["drift"])
    report = write_report(tmp_path / "reports")
    drift_issue.run(str(report))
    assert api.calls() == [("GET", "/labels/drift"), ("GET", "/issues"), ("POST", "/issues/2/comments")]
    assert api.comments[0]["body"].startswith("### ⚠️ Drift detected: 3 of 4 columns drifted.")
    assert len(api.issues) == 3
    assert actions()[0] == {"issue": "2", "action": "commented"}


def test_a_closed_issue_is_not_commented_on(api, tmp_path):
    api.labels["drift"] = {"name": "drift"}
    api.add(title="Data drift detected", labels=["drift"])["state"] = "closed"
    drift_issue.run(str(write_report(tmp_path / "reports")))
    assert api.calls()[-1] == ("POST", "/issues") and len(api.issues) == 2


def test_no_drift_opens_nothing(api, tmp_path, capsys):
    assert drift_issue.run(str(write_report(tmp_path / "reports", drifted=False))) == 0
    assert api.requests == []
    assert "no drift, so no issue is opened or commented on" in capsys.readouterr().out


def test_an_issue_opened_without_its_label_is_an_error(api, tmp_path):
    api.drop_labels = True
    with pytest.raises(UserError, match="opened without the label 'drift', so the next run would open"):
        drift_issue.run(str(write_report(tmp_path / "reports")))


def test_a_long_report_is_cut_to_githubs_limit():
    text = drift_issue.body(
        "### Drift\n" + "| col | yes |\n" * 10_000, "https://github.com/acme/demo/actions/runs/1"
    )
    assert len(text) <= 65_536
    assert "cut to GitHub's size limit" in text and text.endswith("distributions.\n")


# The retraining pull request.

DVC_YAML = """stages:
  train:
    cmd: train
    outs:
      - models/model.joblib
    metrics:
      - metrics.json:
          cache: false
    plots:
      - plots:
          cache: false
"""


def lock(model_md5: str) -> str:
    outs = f"    outs:\n    - path: models/model.joblib\n      md5: {model_md5}\n"
    return f"schema: '2.0'\nstages:\n  train:\n    cmd: train\n{outs}"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def clone(tmp_path, monkeypatch, params):
    """A clone of a repository with a committed pipeline; `origin` is a bare repository here."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    params["evaluate"]["primary_metric"] = "roc_auc"  # the metrics written below are a classifier's
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "dvc.lock").write_text(lock("aaa"))
    (tmp_path / "metrics.json").write_text(json.dumps({"roc_auc": 0.9, "accuracy": 0.8}))
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots/roc_curve.png").write_bytes(b"png 1")
    git(tmp_path, "init", "--quiet", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "base")
    git(tmp_path, "remote", "add", "origin", str(origin))
    git(tmp_path, "push", "--quiet", "origin", "main")
    write_report(tmp_path / "reports/drift")
    return tmp_path, origin


def retrained(path: Path, model_md5: str = "bbb", roc_auc: float = 0.95) -> None:
    (path / "dvc.lock").write_text(lock(model_md5))
    (path / "metrics.json").write_text(json.dumps({"roc_auc": roc_auc, "accuracy": 0.8}))
    (path / "plots/roc_curve.png").write_bytes(b"png 2")


def propose(params, token_kind: str = "github") -> int:
    return retrain.run(params, "reports/drift/drift.md", "main", retrain.BRANCH, "origin", token_kind)


def test_an_unchanged_lock_proposes_nothing(api, actions, clone, params):
    assert propose(params) == 0
    assert api.requests == []
    outputs, summary = actions()
    assert outputs == {"proposed": "false"}
    assert "dvc.lock is unchanged: the source has no new data since the current model was trained" in summary
    assert "retrain-on-drift" not in git(clone[1], "branch", "--list")


def test_a_changed_lock_is_pushed_and_proposed(api, actions, clone, params):
    path, origin = clone
    retrained(path)
    assert propose(params) == 0
    assert git(origin, "log", "-1", "--format=%an|%s", retrain.BRANCH) == (
        "github-actions[bot]|Retrain on new data after drift"
    )
    assert git(origin, "rev-parse", f"{retrain.BRANCH}^") == git(origin, "rev-parse", "main")
    changed = git(origin, "diff", "--name-only", "main", retrain.BRANCH).split()
    assert changed == ["dvc.lock", "metrics.json", "plots/roc_curve.png"]
    assert api.calls() == [("GET", "/pulls"), ("POST", "/pulls")]
    (pull,) = api.issues.values()
    assert (pull["title"], pull["head"]["ref"], pull["base"]["ref"]) == (
        retrain.TITLE,
        retrain.BRANCH,
        "main",
    )
    body = pull["body"]
    assert "> Drift detected: 3 of 4 columns drifted." in body
    assert "| **roc_auc** ↑ | 0.9 | 0.95 | +0.05 | better |" in body
    assert "| modified | `models/model.joblib` |  |" in body
    assert "Opened with the workflow's GITHUB_TOKEN, so GitHub started no checks for it" in body
    assert actions()[0] == {"proposed": "true", "pull": "1"}


def test_an_open_pull_request_is_updated_and_its_branch_replaced(api, clone, params):
    path, origin = clone
    retrained(path)
    propose(params)
    first = git(origin, "rev-parse", retrain.BRANCH)
    git(path, "checkout", "--quiet", "main")  # a later run starts from main again
    retrained(path, model_md5="ccc", roc_auc=0.97)
    propose(params, token_kind="app")
    assert api.calls()[-2:] == [("GET", "/pulls"), ("PATCH", "/pulls/1")]
    (pull,) = api.issues.values()
    assert "| 0.9 | 0.97 |" in pull["body"] and "GITHUB_TOKEN" not in pull["body"]
    second = git(origin, "rev-parse", retrain.BRANCH)
    assert second != first and git(origin, "rev-parse", f"{second}^") == git(origin, "rev-parse", "main")


def test_the_push_token_goes_to_the_github_server_only_and_not_to_the_command_line(monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    monkeypatch.delenv("GIT_CONFIG_COUNT", raising=False)
    env = proposal.push_env("secret-token")
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.example.com/.extraheader"
    assert env["GIT_CONFIG_VALUE_0"] == "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0LXRva2Vu"


def test_a_refused_pull_request_says_what_to_allow(api, clone, params):
    path, _ = clone
    retrained(path)
    message = "GitHub Actions is not permitted to create or approve pull requests."
    api.fail[("POST", f"/repos/{api.repo}/pulls")] = (403, {"message": message})
    with pytest.raises(UserError, match="allow GitHub Actions to create pull requests"):
        propose(params)
