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
no Docker engine here), and the attestation stand-in records what would be signed.

Each pushed image is proposed for staging: the first release opens the staging pull request, the
forced rebuild updates it. Then the deployment flow runs as a team would drive it: the staging pull
request is merged, production.yml opens the production pull request, that is merged, and deploy.yml
sets the registry's aliases from the overlays; a later change of production to version 2 moves the
alias, and `git revert` of it moves it back. The project's `origin` is a bare repository on this
machine whose path ends in github.com/acme/demo.git (act reads `acme/demo` from it).
"""

import json
import re
import subprocess

import pytest
import yaml

from .act_runner import REPOSITORY, git, run_act
from .conftest import bake, clean_env
from .fake_github import FakeGitHub
from .servers import mlflow_server, registry_state

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

WORKFLOW = ".github/workflows/main.yml"
PRODUCTION, DEPLOY = ".github/workflows/production.yml", ".github/workflows/deploy.yml"
RELEASE_FILE = "deploy/overlays/{}/release/kustomization.yaml"
TOKEN = "ghs_main_workflow_token"


EVENT_REPOSITORY = {"full_name": REPOSITORY, "name": "demo", "default_branch": "main", "private": False}


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


def dispatch_event(branch: str, inputs: dict | None = None) -> dict:
    """GitHub's event carries dispatch inputs as strings; the `inputs` context types them."""
    inputs = {"force_image": "true"} if inputs is None else inputs
    return {"inputs": inputs, "ref": f"refs/heads/{branch}", "repository": EVENT_REPOSITORY}


def builds(result) -> list[dict]:
    """What the build-push stand-in recorded in this run: one entry per image pushed."""
    records = result.standin_records / "docker/builds.jsonl"
    return [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []


def attestations(result) -> list[dict]:
    records = result.standin_records / "attestations.jsonl"
    return [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []


def released(text: str) -> dict:
    """The image and model version a release component names."""
    doc = yaml.safe_load(text)
    (image,) = doc["images"]
    return {**image, "version": doc["commonAnnotations"]["org.mlflow.model.version"]}


def logins(result) -> list[list[str]]:
    records = result.standin_records / "docker/logins"
    return [line.split(" ", 1) for line in records.read_text().splitlines()] if records.exists() else []


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("main")
    project = bake(root, project_name="release demo", github_owner="Acme")
    project.run("uv", "lock", "--quiet")
    origin = root / f"server/github.com/{REPOSITORY}.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(origin)], check=True)
    git(project.path, "remote", "add", "origin", str(origin))
    project.commit("generated")
    git(project.path, "push", "--quiet", "origin", "main")
    project.run("uv", "sync", "--quiet")  # the .venv the test reads the registry with; git ignores it
    server, uri = mlflow_server(project.path, root, clean_env())
    name = yaml.safe_load(project.read("params.yaml"))["mlflow"]["registered_model"]
    results, states, commits, branches = {}, {}, {}, {}

    def release(label: str, event: str, payload: dict, variables=None, workflow=WORKFLOW) -> None:
        commits[label] = git(project.path, "rev-parse", "HEAD")
        results[label] = run_act(
            project.path,
            event,
            payload,
            workflow=workflow,
            secrets={"GITHUB_TOKEN": TOKEN},
            variables={"MLFLOW_TRACKING_URI": uri} if variables is None else variables,
            github_api_url=api.url,
            workdir=tmp_path_factory.mktemp(label),
        )
        states[label] = registry_state(project, name, uri)
        for environment in ("staging", "production"):
            found = subprocess.run(
                [
                    "git",
                    "--git-dir",
                    str(origin),
                    "show",
                    f"deploy/{environment}:{RELEASE_FILE.format(environment)}",
                ],
                capture_output=True,
                text=True,
            )
            branches[(label, environment)] = released(found.stdout) if found.returncode == 0 else None

    def land() -> dict:
        """Push main, as merging a pull request or pushing a commit does; the push event of it."""
        before = git(project.path, "rev-parse", "origin/main")
        git(project.path, "push", "--quiet", "origin", "main")
        git(project.path, "fetch", "--quiet", "origin")
        return push_event(project, before)

    def merge(branch: str) -> dict:
        git(project.path, "fetch", "--quiet", "origin", branch)
        git(project.path, "merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", "FETCH_HEAD")
        return land()

    try:
        with FakeGitHub(token=TOKEN) as api:
            git(project.path, "fetch", "--quiet", "origin")
            release("first", "push", push_event(project, "0" * 40))
            before = commits["first"]
            project.set_hyperparameters(n_estimators=1, max_depth=1)
            project.commit("a much smaller forest")
            land()
            release("worse", "push", push_event(project, before))
            release("forced", "workflow_dispatch", dispatch_event("main"))
            release("unconfigured", "push", push_event(project, before), variables={})
            release("other-branch", "workflow_dispatch", dispatch_event("experiment"))
            # The deployment flow: staging merged, production proposed and merged, aliases from git.
            staged = merge("deploy/staging")
            release(
                "production",
                "workflow_dispatch",
                dispatch_event("main", {"reason": "staging is healthy"}),
                workflow=PRODUCTION,
            )
            merge("deploy/production")
            release("aliases", "push", staged, workflow=DEPLOY)
            production = project.path / RELEASE_FILE.format("production")
            production.write_text(production.read_text().replace("version: '1'", "version: '2'"))
            project.commit("run version 2 in production")
            release("to-2", "push", land(), workflow=DEPLOY)
            git(project.path, "revert", "--no-edit", "HEAD")
            release("reverted", "push", land(), workflow=DEPLOY)
            yield {
                "project": project,
                "name": name,
                "results": results,
                "states": states,
                "commits": commits,
                "branches": branches,
                "api": api,
            }
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


# Deployment: staging follows main, production by pull request, the registry's aliases from git.


def pulls(releases, branch: str) -> list[dict]:
    return [p for p in releases["api"].pulls(REPOSITORY) if p["head"]["ref"] == branch]


def test_the_pushed_image_is_attested_and_proposed_for_staging_by_digest(releases):
    result = releases["results"]["first"]
    (build,) = builds(result)
    (attestation,) = attestations(result)
    assert attestation["subject_name"] == "ghcr.io/acme/release-demo"
    assert attestation["subject_digest"] == build["digest"] and attestation["push_to_registry"] is True
    staged = releases["branches"][("first", "staging")]
    assert staged == {
        "name": "release-demo",
        "newName": "ghcr.io/acme/release-demo",
        "digest": build["digest"],
        "version": "1",
    }
    posts = releases["api"].calls("POST", rf"/repos/{REPOSITORY}/pulls")
    (opened,) = [p for p in posts if p.body["head"] == "deploy/staging"]  # later runs update it
    assert opened.body["title"] == "Deploy model version 1 to staging"
    assert (opened.body["head"], opened.body["base"]) == ("deploy/staging", "main")
    body = opened.body["body"]
    assert build["digest"] in body and attestation["url"] in body
    assert f"gh attestation verify oci://ghcr.io/acme/release-demo@{build['digest']} -R {REPOSITORY}" in body
    assert (
        "[opened pull request #" in result.summary
        and "deploying model version 1 to staging" in result.summary
    )


def test_a_release_without_an_image_proposes_nothing(releases):
    assert "Propose the image for staging" not in " ".join(releases["results"]["worse"].steps())
    assert releases["branches"][("worse", "staging")] == releases["branches"][("first", "staging")]


def test_a_later_image_updates_the_one_staging_pull_request(releases):
    result = releases["results"]["forced"]
    (build,) = builds(result)
    (pull,) = pulls(releases, "deploy/staging")
    assert build["digest"] in pull["body"]
    assert "[updated pull request #" in result.summary
    assert releases["branches"][("forced", "staging")]["digest"] == build["digest"]


def test_production_is_proposed_by_pull_request_copying_staging(releases):
    result = releases["results"]["production"]
    assert result.returncode == 0, result
    staging = releases["branches"][("forced", "staging")]
    assert releases["branches"][("production", "production")] == staging
    (pull,) = pulls(releases, "deploy/production")
    assert pull["title"] == "Deploy model version 1 to production"
    body = pull["body"]
    assert "> staging is healthy" in body
    assert "| model version | none | 1 |" in body
    assert f"`ghcr.io/acme/release-demo@{staging['digest']}`" in body
    roc_auc = releases["states"]["production"]["tags"]["1"]["metric.roc_auc"]
    assert f"| roc_auc | - | {roc_auc} |" in body  # the metric the registry holds for version 1
    assert "To roll back, revert the merge." in body


def test_the_aliases_follow_the_overlays_that_land_and_a_revert_moves_them_back(releases):
    states, results = releases["states"], releases["results"]
    assert results["aliases"].returncode == 0, results["aliases"]
    before = {"champion": "1", "challenger": "2"}  # the release gate's, untouched by deployments
    assert states["production"]["aliases"] == before
    assert states["aliases"]["aliases"] == before | {"staging": "1", "production": "1"}
    assert states["to-2"]["aliases"] == before | {"staging": "1", "production": "2"}
    assert states["reverted"]["aliases"] == before | {"staging": "1", "production": "1"}
    assert "release-demo@production: version 1 (was 2)" in results["reverted"].summary
