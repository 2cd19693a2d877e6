"""The machinery that runs generated workflows under act: stand-ins, the cml stand-in, the recording API."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .act_runner import (
    ACTIONS,
    REPOSITORY,
    ActSetupError,
    check_actions,
    commit_all,
    init_repo,
    pull_request_event,
    run_act,
)
from .fake_github import FakeGitHub

CML = Path(__file__).parent / "standins/iterative/setup-cml/cml.py"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 16


def pin(name: str) -> str:
    return f"{name}@{ACTIONS[name][0]}"


def run_cml(repo: Path, *args: str, api: FakeGitHub | None = None, **env: str) -> subprocess.CompletedProcess:
    event = repo / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": "abc123"}}}))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CML_", "REPO_TOKEN"))}
    base.update(
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_WORKFLOW="pr",
        GITHUB_RUN_ID="42",
        GITHUB_REPOSITORY=REPOSITORY,
        STANDIN_OUTPUT_DIR=str(repo),
    )
    if api:
        base["GITHUB_API_URL"] = api.url
    base.update(env)
    return subprocess.run(
        [sys.executable, str(CML), *args], cwd=repo, env=base, check=False, capture_output=True, text=True
    )


@pytest.fixture
def repo(tmp_path):
    init_repo(tmp_path)
    (tmp_path / "report.md").write_text("# Report\n\n![roc](plots/roc.png)\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots/roc.png").write_bytes(PNG)
    return tmp_path


@pytest.fixture
def api():
    with FakeGitHub(token="t0ken") as server:
        server.add_pull(REPOSITORY, 7, head="feature")
        yield server


class TestCmlStandIn:
    def test_unknown_flag_fails_like_cml(self, repo, api):
        result = run_cml(
            repo, "comment", "create", "report.md", "--watermark-titel=x", api=api, GITHUB_TOKEN="t0ken"
        )
        assert result.returncode == 1
        assert "Unknown argument: watermark-titel" in result.stderr
        assert api.requests == []

    def test_missing_file_fails_like_cml(self, repo, api):
        result = run_cml(repo, "comment", "update", "missing.md", api=api, GITHUB_TOKEN="t0ken")
        assert result.returncode == 1
        assert "ENOENT: no such file or directory, open 'missing.md'" in result.stderr

    def test_no_token_fails(self, repo, api):
        result = run_cml(repo, "comment", "create", "report.md", api=api)
        assert result.returncode == 1 and "token not found" in result.stderr

    def test_update_without_watermark_is_refused(self, repo, api):
        result = run_cml(
            repo, "comment", "update", "report.md", "--rm-watermark", api=api, GITHUB_TOKEN="t0ken"
        )
        assert result.returncode == 1 and "watermarks are mandatory" in result.stderr

    def test_update_edits_the_comment_with_the_same_watermark(self, repo, api):
        args = (
            "comment",
            "update",
            "report.md",
            "--watermark-title={workflow}",
            "--publish",
            f"--publish-url={api.asset_url}",
        )
        first = run_cml(repo, *args, api=api, GITHUB_TOKEN="t0ken")
        assert first.returncode == 0, first.stderr
        api.repo(REPOSITORY).comments[999] = {
            "id": 999,
            "issue_number": 7,
            "body": "a human's comment",
            "html_url": "x",
        }
        (repo / "report.md").write_text("# Report v2\n")
        second = run_cml(repo, *args, api=api, GITHUB_TOKEN="t0ken")
        assert second.returncode == 0, second.stderr
        (mine,) = [c for c in api.comments(REPOSITORY, 7) if c["id"] != 999]
        assert mine["body"].startswith("# Report v2")
        assert '![](https://cml.dev/watermark.png#abc123 "CML watermark pr")' in mine["body"]
        assert [r.method for r in api.calls("PATCH", r"/repos/acme/demo/issues/comments/\d+")] == ["PATCH"]
        assert all(r.headers["Authorization"] == "token t0ken" for r in api.requests if "/repos/" in r.path)

    def test_a_different_watermark_title_posts_a_new_comment(self, repo, api):
        for title in ("pr-report", "other"):
            result = run_cml(
                repo,
                "comment",
                "update",
                "report.md",
                "--no-publish",
                f"--watermark-title={title}",
                api=api,
                GITHUB_TOKEN="t0ken",
            )
            assert result.returncode == 0, result.stderr
        assert len(api.comments(REPOSITORY, 7)) == 2

    def test_publish_uploads_local_images_to_the_publish_url(self, repo, api):
        result = run_cml(
            repo,
            "comment",
            "create",
            "report.md",
            f"--publish-url={api.asset_url}",
            api=api,
            GITHUB_TOKEN="t0ken",
        )
        assert result.returncode == 0, result.stderr
        (comment,) = api.comments(REPOSITORY, 7)
        assert f"![roc]({api.asset_url}/1-roc.png?cml=png&cache-bypass=" in comment["body"]
        (asset,) = api.assets.values()
        assert asset == ("image/png", PNG)

    def test_publish_refuses_hosts_off_this_machine(self, repo, api):
        result = run_cml(repo, "comment", "create", "report.md", api=api, GITHUB_TOKEN="t0ken")
        assert result.returncode == 1 and "https://asset.cml.dev" in result.stderr
        assert api.comments(REPOSITORY, 7) == []

    def test_calls_are_recorded(self, repo, api):
        run_cml(repo, "comment", "create", "report.md", "--no-publish", api=api, GITHUB_TOKEN="t0ken")
        (call,) = [json.loads(x) for x in (repo / "cml-calls.jsonl").read_text().splitlines()]
        assert call["argv"][:3] == ["cml", "comment", "create"] and call["target"] == "pr/7"
        assert call["action"] == "created" and call["returncode"] == 0


class TestFakeGitHub:
    def call(self, api, method, path, body=None, token="t0ken"):
        headers = {
            "Content-Type": "application/json",
            **({"Authorization": f"token {token}"} if token else {}),
        }
        request = urllib.request.Request(
            api.url + path,
            method=method,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def test_requires_authorization(self, api):
        assert self.call(api, "GET", "/repos/acme/demo/issues", token=None)[0] == 401
        assert self.call(api, "GET", "/repos/acme/demo/issues", token="wrong")[0] == 401

    def test_issues_with_labels(self, api):
        status, issue = self.call(
            api,
            "POST",
            "/repos/acme/demo/issues",
            {"title": "Drift detected", "body": "x", "labels": ["drift"]},
        )
        assert status == 201 and issue["number"] == 8  # after the pull request #7: one number space
        self.call(api, "POST", "/repos/acme/demo/issues", {"title": "Other"})
        status, found = self.call(api, "GET", "/repos/acme/demo/issues?labels=drift&state=open")
        assert [i["title"] for i in found] == ["Drift detected"]
        status, _ = self.call(api, "PATCH", "/repos/acme/demo/issues/8", {"state": "closed"})
        assert self.call(api, "GET", "/repos/acme/demo/issues?labels=drift")[1] == []

    def test_pulls_create_and_duplicate(self, api):
        body = {"title": "Retrain", "head": "retrain/1", "base": "main"}
        assert self.call(api, "POST", "/repos/acme/demo/pulls", body)[0] == 201
        assert self.call(api, "POST", "/repos/acme/demo/pulls", body)[0] == 422
        assert self.call(api, "POST", "/repos/acme/demo/pulls", {"title": "x"})[0] == 422
        assert [p["head"]["ref"] for p in api.pulls(REPOSITORY)] == ["feature", "retrain/1"]

    def test_comment_on_unknown_issue_is_not_found(self, api):
        assert self.call(api, "POST", "/repos/acme/demo/issues/99/comments", {"body": "x"})[0] == 404


def test_workflow_with_an_action_without_stand_in_is_refused(tmp_path):
    workflow = tmp_path / "wf.yml"
    workflow.write_text("jobs:\n  a:\n    steps:\n      - uses: actions/github-script@v7\n")
    with pytest.raises(ActSetupError, match="no stand-in"):
        check_actions(workflow)
    workflow.write_text(f"jobs:\n  a:\n    steps:\n      - uses: actions/cache@{'0' * 40}\n")
    with pytest.raises(ActSetupError, match="pins actions/cache"):
        check_actions(workflow)


WORKFLOW = f"""
on: pull_request
permissions: {{}}
jobs:
  all:
    runs-on: ubuntu-latest
    permissions:
      pull-requests: write
    steps:
      - uses: {pin("actions/checkout")}
        with:
          persist-credentials: false
      - id: py
        uses: {pin("actions/setup-python")}
        with:
          python-version: "3.11"
      - id: uv
        uses: {pin("astral-sh/setup-uv")}
        with:
          enable-cache: true
          activate-environment: true
      - uses: {pin("actions/cache")}
        with:
          path: ~/.cache/x
          key: x-${{{{ hashFiles('report.md') }}}}
      - uses: {pin("iterative/setup-cml")}
      - run: |
          echo "python ${{{{ steps.py.outputs.python-version }}}} uv ${{{{ steps.uv.outputs.uv-version }}}}"
          test "$(command -v uv)" = "${{{{ steps.uv.outputs.uv-path }}}}"
          test -n "$VIRTUAL_ENV"
          echo "### Harness works" >> "$GITHUB_STEP_SUMMARY"
      - uses: {pin("actions/upload-artifact")}
        with:
          name: report
          path: |
            report.md
            plots/
      - env:
          REPO_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
        run: cml comment update report.md --watermark-title="{{workflow}}" --publish-url="$PUBLISH_URL"
"""


@pytest.mark.slow
@pytest.mark.workflow
def test_stand_ins_under_act(repo, api, tmp_path_factory):
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/pr.yml").write_text(WORKFLOW)
    commit_all(repo, "base")
    subprocess.run(["git", "checkout", "-q", "-b", "feature"], cwd=repo, check=True)
    (repo / "report.md").write_text("# Report\n\n![roc](plots/roc.png)\n\nsecond push\n")
    commit_all(repo, "change")
    event = pull_request_event(repo, 7, "feature")
    for push in range(2):
        result = run_act(
            repo,
            "pull_request",
            event,
            secrets={"GITHUB_TOKEN": "t0ken"},
            github_api_url=api.url,
            env={"PUBLISH_URL": api.asset_url},
            workdir=tmp_path_factory.mktemp(f"act{push}"),
        )
        assert result.returncode == 0, result
    assert "### Harness works" in result.summary
    assert (result.artifacts / "report/report.md").is_file() and (
        result.artifacts / "report/plots/roc.png"
    ).is_file()
    (comment,) = api.comments(REPOSITORY, 7)
    assert "second push" in comment["body"] and f"{api.asset_url}/" in comment["body"]
    assert [c["action"] for c in result.cml_calls] == ["updated"]
