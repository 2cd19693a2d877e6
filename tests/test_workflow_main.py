"""The generated main.yml, run for real under act: the release of each merge to main.

One project, one real `mlflow server` (SQLite backend) as the registry the workflow is configured
with, and three runs in order: the first merge (its model becomes champion and its image is
pushed), a merge of a worse model (registered, not promoted, no image), and a manual run with
`force_image` on that same commit (the version is found, not registered again, and the champion's
image is rebuilt). A last run of the worse commit has no registry configured: it releases into
the runner's own SQLite file, says that nothing persists, and its model, the only one there,
still fails the absolute floors: no champion, no image. A manual run of another branch, with
`force_image`, releases nothing and says why. The docker actions are stand-ins that
check and record the build context, Dockerfile, tags and labels instead of building (there is
no Docker engine here).
"""

import json
import re

import pytest
import yaml

from .act_runner import REPOSITORY, git, run_act
from .conftest import bake, clean_env
from .fake_github import FakeGitHub
from .servers import mlflow_server, registry_state

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

WORKFLOW = ".github/workflows/main.yml"
TOKEN = "ghs_main_workflow_token"


EVENT_REPOSITORY = {"full_name": REPOSITORY, "name": "demo", "default_branch": "main"}


def push_event(project, before: str) -> dict:
    head = git(project.path, "rev-parse", "HEAD")
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": head,
        "head_commit": {"id": head, "message": git(project.path, "log", "-1", "--format=%s")},
        "repository": EVENT_REPOSITORY,
        "sender": {"login": "acme-dev"},
    }


def dispatch_event(branch: str) -> dict:
    """GitHub's event carries dispatch inputs as strings; the `inputs` context types them."""
    return {"inputs": {"force_image": "true"}, "ref": f"refs/heads/{branch}", "repository": EVENT_REPOSITORY}


def builds(result) -> list[dict]:
    """What the build-push stand-in recorded in this run: one entry per image pushed."""
    records = result.standin_records / "docker/builds.jsonl"
    return [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []


def logins(result) -> list[list[str]]:
    records = result.standin_records / "docker/logins"
    return [line.split(" ", 1) for line in records.read_text().splitlines()] if records.exists() else []


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("main")
    project = bake(root, project_name="release demo", github_owner="Acme")
    project.run("uv", "lock", "--quiet")
    git(project.path, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    project.commit("generated")
    project.run("uv", "sync", "--quiet")  # the .venv the test reads the registry with; git ignores it
    server, uri = mlflow_server(project.path, root, clean_env())
    name = yaml.safe_load(project.read("params.yaml"))["mlflow"]["registered_model"]
    results, states, commits = {}, {}, {}

    def release(label: str, event: str, payload: dict, variables=None) -> None:
        commits[label] = git(project.path, "rev-parse", "HEAD")
        results[label] = run_act(
            project.path,
            event,
            payload,
            workflow=WORKFLOW,
            secrets={"GITHUB_TOKEN": TOKEN},
            variables={"MLFLOW_TRACKING_URI": uri} if variables is None else variables,
            github_api_url=api.url,
            workdir=tmp_path_factory.mktemp(label),
        )
        states[label] = registry_state(project, name, uri)

    try:
        with FakeGitHub(token=TOKEN) as api:
            release("first", "push", push_event(project, "0" * 40))
            before = commits["first"]
            project.set_hyperparameters(n_estimators=1, max_depth=1)
            project.commit("a much smaller forest")
            release("worse", "push", push_event(project, before))
            release("forced", "workflow_dispatch", dispatch_event("main"))
            release("unconfigured", "push", push_event(project, before), variables={})
            release("other-branch", "workflow_dispatch", dispatch_event("experiment"))
            yield {"project": project, "name": name, "results": results, "states": states, "commits": commits}
    finally:
        server.stop()


def test_first_merge_registers_its_model_with_lineage_and_makes_it_champion(releases):
    result, state = releases["results"]["first"], releases["states"]["first"]
    assert result.returncode == 0, result
    assert state["versions"] == ["1"]
    assert state["aliases"] == {"champion": "1"}
    tags = state["tags"]["1"]
    assert tags["git.commit"] == releases["commits"]["first"]
    assert tags["git.branch"] == "main"
    assert {"metric.roc_auc", "promotion"} <= set(tags)
    assert "**Registry:** the MLflow server at" in result.summary and "nothing persists" not in result.summary
    # The default remote is a directory beside the checkout: the summary says which, and why no push.
    assert re.search(r"local directory \(`/\S+/dvc-storage`\), not reachable from here", result.summary)


def test_first_merge_pushes_the_champions_image_with_model_and_commit_tags(releases):
    result = releases["results"]["first"]
    sha = releases["commits"]["first"]
    (build,) = builds(result)
    image = "ghcr.io/acme/release-demo"  # the owner answer "Acme" lowercased, as image names must be
    assert build["tags"] == [f"{image}:model-1", f"{image}:sha-{sha}"]
    assert build["push"] is True
    assert build["file"] == "bento/env/docker/Dockerfile"
    labels = build["labels"]
    assert labels["org.opencontainers.image.source"] == f"https://github.com/{REPOSITORY}"
    assert labels["org.opencontainers.image.revision"] == sha
    assert labels["org.mlflow.model.version"] == "1"
    assert labels["ai.bentoml.bento"].startswith("release-demo:")
    (login,) = logins(result)
    assert login[0] == "ghcr.io" and login[1]
    # The context holds the champion itself: the model the Bento was built with is version 1.
    (model,) = build["models"]
    model_name, model_tag = model.split(":")
    assert f"models/{model_name}/{model_tag}/model.yaml" in build["files"]
    context = result.artifacts / "bento-context"
    stored = yaml.safe_load((context / f"models/{model_name}/{model_tag}/model.yaml").read_text())
    assert stored["labels"]["model_version"] == "1"
    assert f"pushed `{build['digest']}`" in result.summary


def test_a_worse_merge_is_registered_but_not_promoted_and_no_image_is_built(releases):
    result, state = releases["results"]["worse"], releases["states"]["worse"]
    assert result.returncode == 0, result  # not promoted is a decision, not a failure
    assert state["versions"] == ["1", "2"]
    assert state["aliases"] == {"champion": "1", "challenger": "2"}
    assert state["tags"]["2"]["git.commit"] == releases["commits"]["worse"]
    assert "not promoted" in result.summary
    assert "**Image:** not built: version 2 was not promoted" in result.summary
    assert builds(result) == [] and logins(result) == []


def test_a_forced_run_rebuilds_the_champions_image_without_registering_again(releases):
    result, state = releases["results"]["forced"], releases["states"]["forced"]
    assert result.returncode == 0, result
    assert state["versions"] == ["1", "2"]  # the same model file: version 2 is found, not registered again
    assert state["aliases"] == {"champion": "1", "challenger": "2"}
    (build,) = builds(result)
    sha = releases["commits"]["worse"]
    assert build["tags"] == ["ghcr.io/acme/release-demo:model-1", f"ghcr.io/acme/release-demo:sha-{sha}"]
    assert build["labels"]["org.mlflow.model.version"] == "1"


def test_without_a_registry_the_release_happens_on_the_runner_and_says_nothing_persists(releases):
    result = releases["results"]["unconfigured"]
    assert result.returncode == 0, result
    assert "No MLflow tracking server is configured" in result.summary
    assert "**nothing persists**" in result.summary
    assert releases["states"]["unconfigured"] == releases["states"]["forced"]  # nothing reached the server
    # The first version of an empty registry still has to pass the floors.
    assert re.search(r"Version 1 of release-demo not promoted: .*worse than its floor", result.summary)
    assert "**Image:** not built: version 1 was not promoted" in result.summary
    assert builds(result) == []


def test_a_manual_run_of_another_branch_releases_nothing_and_says_why(releases):
    result = releases["results"]["other-branch"]
    assert result.returncode == 0, result
    assert set(result.steps()) == {"Say why nothing is released"}  # no job of the release started
    assert result.summary == (
        "**Release:** nothing released: `refs/heads/experiment` is not the default branch `main`, "
        "the only one that registers, promotes or pushes an image.\n"
    )
    assert releases["states"]["other-branch"] == releases["states"]["unconfigured"]
    assert builds(result) == [] and logins(result) == []
