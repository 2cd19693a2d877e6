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


DOCKER = Path(__file__).parent / "standins/docker"
DOCKERFILE = """FROM python:3.11-slim
COPY --chown=bentoml:bentoml ./env/docker ./env/docker/
COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/uv
COPY --chown=bentoml:bentoml . ./
"""


def docker_standin(workspace: Path, script: str, api: FakeGitHub | None = None, **inputs: str):
    """Run one docker stand-in's script as its composite step would, with `inputs` as INPUT_* values."""
    out = workspace / "github-output"
    out.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    env.update(
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_OUTPUT=str(out),
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_EVENT_NAME="push",
        GITHUB_REF="refs/heads/main",
        GITHUB_SHA="0123456789abcdef0123456789abcdef01234567",
        GITHUB_API_URL=api.url if api else "http://127.0.0.1:9",
        STANDIN_OUTPUT_DIR=str(workspace / "records"),
    )
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    result = subprocess.run([sys.executable, str(DOCKER / script)], env=env, capture_output=True, text=True)
    return result, read_outputs(out.read_text())


def read_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        name, heredoc, delimiter = line.partition("<<")
        if heredoc and "=" not in name:
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


@pytest.fixture
def bento_context(tmp_path):
    """A workspace holding a Bento's build context the way `bento --export` writes it."""
    context = tmp_path / "bento"
    (context / "env/docker").mkdir(parents=True)
    (context / "env/docker/Dockerfile").write_text(DOCKERFILE)
    (context / "bento.yaml").write_text(
        "name: demo\nmodels: []\nservices:\n- name: Model\n  models:\n  - tag: demo-model:abc123\n"
        "    module: bentoml.mlflow\n"
    )
    (context / "models/demo-model/abc123").mkdir(parents=True)
    (context / "models/demo-model/abc123/model.yaml").write_text("name: demo-model\n")
    (tmp_path / "records/docker").mkdir(parents=True)
    (tmp_path / "records/docker/logins").write_text("ghcr.io acme\n")
    return tmp_path


def build(workspace: Path, **inputs: str):
    defaults = {"context": "bento", "file": "bento/env/docker/Dockerfile", "tags": "ghcr.io/acme/demo:1",
                "labels": "a=b", "platforms": "", "push": "true", "load": "false", "target": ""}  # fmt: skip
    return docker_standin(workspace, "build-push-action/build.py", **{**defaults, **inputs})


class TestBuildPushStandIn:
    def test_records_the_context_dockerfile_tags_and_labels(self, bento_context):
        result, outputs = build(bento_context, tags="ghcr.io/acme/demo:model-1\nghcr.io/acme/demo:sha-0123")
        assert result.returncode == 0, result.stdout
        (record,) = [
            json.loads(x) for x in (bento_context / "records/docker/builds.jsonl").read_text().splitlines()
        ]
        assert record["tags"] == ["ghcr.io/acme/demo:model-1", "ghcr.io/acme/demo:sha-0123"]
        assert record["labels"] == {"a": "b"} and record["file"] == "bento/env/docker/Dockerfile"
        assert "models/demo-model/abc123/model.yaml" in record["files"] and record["models"] == [
            "demo-model:abc123"
        ]
        assert outputs["digest"] == record["digest"] and outputs["digest"].startswith("sha256:")

    def test_a_context_without_the_bentos_model_fails(self, bento_context):
        (bento_context / "bento/models/demo-model/abc123/model.yaml").unlink()
        result, _ = build(bento_context)
        assert result.returncode == 1
        assert "bento.yaml names the model demo-model:abc123" in result.stdout
        assert not (bento_context / "records/docker/builds.jsonl").exists()

    def test_a_dockerignored_model_is_missing_too(self, bento_context):
        (bento_context / "bento/.dockerignore").write_text("models/\n")
        assert "without its model" in build(bento_context)[0].stdout

    def test_a_missing_dockerfile_or_copy_source_fails_as_the_build_would(self, bento_context):
        assert "failed to read dockerfile" in build(bento_context, file="bento/Dockerfile")[0].stdout
        assert 'path "elsewhere" not found' in build(bento_context, context="elsewhere")[0].stdout
        (bento_context / "bento/env/docker/Dockerfile").write_text(DOCKERFILE + "COPY ./env/python ./x/\n")
        assert '"/env/python": not found' in build(bento_context)[0].stdout

    def test_tags_and_pushes_are_checked_as_a_registry_would(self, bento_context):
        assert "invalid reference format" in build(bento_context, tags="ghcr.io/Acme/demo:1")[0].stdout
        assert "tag is needed when pushing" in build(bento_context, tags="")[0].stdout
        refused = build(bento_context, tags="docker.io/acme/demo:1")[0]
        assert "unauthorized: authentication required" in refused.stdout
        assert build(bento_context, tags="docker.io/acme/demo:1", push="false")[0].returncode == 0
        assert "YAML 1.2" in build(bento_context, push="yes")[0].stdout


class TestMetadataStandIn:
    def meta(self, workspace, api, **inputs):
        defaults = {"context": "workflow", "images": "ghcr.io/acme/demo", "tags": "", "flavor": "", "labels": "",
                    "sep_tags": "", "sep_labels": "", "github_token": "t0ken"}  # fmt: skip
        return docker_standin(workspace, "metadata-action/metadata.py", api, **{**defaults, **inputs})

    def test_tags_by_priority_and_oci_labels_from_the_repository(self, tmp_path, api):
        tags = "type=sha,format=long\ntype=raw,value=model-3\ntype=ref,event=pr"
        result, out = self.meta(tmp_path, api, tags=tags, labels="org.opencontainers.image.title=demo-model")
        assert result.returncode == 0, result.stdout
        sha = "0123456789abcdef0123456789abcdef01234567"
        assert out["tags"].splitlines() == ["ghcr.io/acme/demo:model-3", f"ghcr.io/acme/demo:sha-{sha}"]
        assert out["version"] == "model-3"
        labels = dict(line.split("=", 1) for line in out["labels"].splitlines())
        assert labels["org.opencontainers.image.source"] == f"https://github.com/{REPOSITORY}"
        assert labels["org.opencontainers.image.revision"] == sha
        assert labels["org.opencontainers.image.title"] == "demo-model"  # the input wins over the default
        assert labels["org.opencontainers.image.licenses"] == api.license
        assert api.calls("GET", f"/repos/{REPOSITORY}")

    def test_default_tags_on_a_branch_push(self, tmp_path, api):
        assert self.meta(tmp_path, api)[1]["tags"] == "ghcr.io/acme/demo:main"

    def test_unknown_tag_types_and_an_unreachable_api_fail(self, tmp_path, api):
        assert "Unknown tag type attribute: nope" in self.meta(tmp_path, api, tags="type=nope")[0].stdout
        result, _ = self.meta(tmp_path, None, tags="type=raw,value=x")
        assert result.returncode == 1 and "Cannot get the repository" in result.stdout
