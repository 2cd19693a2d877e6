"""The deployment commands: `deploy stage` and `deploy promote` propose a release by pull request
(or, staged `--direct`, commit it to main), and `deploy aliases` makes the registry's environment
aliases follow what git declares.

Git runs for real, in a clone whose `origin` is a bare repository; GitHub is the REST stand-in of
conftest.py (`api`), and MLflow the scratch SQLite store of `workdir`, with versions registered
directly through the client (a version's files are never loaded here, so no model is trained).
"""

import os
import shutil
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest

from {{ cookiecutter.package_name }} import deploy_release
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.deploy_release import ENVIRONMENTS, path, read, render, write
from {{ cookiecutter.package_name }}.errors import UserError

ROOT = Path(__file__).resolve().parents[1]

PACKAGE = deploy_release.__package__  # the command the release files' header names
IMAGE = "ghcr.io/acme/demo"
A, B, C = (f"sha256:{char * 64}" for char in "abc")
STAGING, PRODUCTION = (str(path(env)) for env in ENVIRONMENTS)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def one_sentence(err: str) -> str:
    """The message of a command's error output, checked to be one line, one sentence."""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    message = err.removeprefix("error: ").strip()
    assert message.endswith(".") and not message.endswith("..") and "Traceback" not in message, message
    return message


def released(environment: str, digest: str, version: str, image: str = IMAGE) -> str:
    """The text of `environment`'s release file (as generated) once it runs this release."""
    generated = read_generated(environment)
    return render(generated.runs(image, digest, generated.model, version), PACKAGE)


def read_generated(environment: str) -> deploy_release.Release:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return read(environment)


@pytest.fixture
def overlays(workdir):
    """The project's deploy/ folder, as generated, in the scratch project directory."""
    if not (ROOT / "deploy/overlays").is_dir():
        pytest.skip("generated with deploy=none: no overlays to release")
    shutil.copytree(ROOT / "deploy", workdir / "deploy")
    return workdir


class Repo:
    """The workflow's clone (`path`, the working directory), its `origin`, and another clone that
    stands for everyone else: merges on GitHub, other people's pushes."""

    def __init__(self, path: Path, origin: Path, other: Path):
        self.path, self.origin, self.other = path, origin, other

    def push_to_main(self, files: dict[str, str], message: str = "Someone else's change") -> str:
        """Commit `files` (path: text) on origin's latest main from the other clone; returns the commit."""
        git(self.other, "pull", "--quiet", "--ff-only", "origin", "main")
        for name, text in files.items():
            (self.other / name).parent.mkdir(parents=True, exist_ok=True)
            (self.other / name).write_text(text)
        git(self.other, "add", "-A")
        git(self.other, "commit", "--quiet", "-m", message)
        git(self.other, "push", "--quiet", "origin", "main")
        return git(self.other, "rev-parse", "HEAD")

    def merge(self, branch: str) -> str:
        """Merge origin's `branch` into main with a merge commit, as GitHub's merge button does."""
        git(self.other, "pull", "--quiet", "--ff-only", "origin", "main")
        git(self.other, "fetch", "--quiet", "origin", branch)
        git(self.other, "merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", "FETCH_HEAD")
        git(self.other, "push", "--quiet", "origin", "main")
        return git(self.other, "rev-parse", "HEAD")

    def checkout(self) -> None:
        """A new workflow run: the work tree at origin's main as it is now."""
        git(self.path, "fetch", "--quiet", "origin", "main")
        git(self.path, "switch", "--quiet", "--force", "-C", "main", "FETCH_HEAD")

    def show(self, revision: str, name: str) -> str:
        return git(self.origin, "show", f"{revision}:{name}") + "\n"

    def changed(self, base: str, branch: str) -> list[str]:
        return git(self.origin, "diff", "--name-only", base, branch).split()

    def branches(self) -> list[str]:
        return git(self.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


@pytest.fixture
def repo(overlays, tmp_path_factory, monkeypatch):
    """The project, committed on main and pushed to a bare `origin`; no git identity (as on a runner)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(overlays / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    remote = tmp_path_factory.mktemp("remote")
    origin, other = remote / "origin.git", remote / "other"
    git(remote, "init", "--quiet", "--bare", "-b", "main", str(origin))
    (overlays / ".gitignore").write_text("/mlflow.db\n/output\n/summary.md\n/mlruns/\n/mlartifacts/\n")
    git(overlays, "init", "--quiet", "-b", "main")
    git(overlays, "add", "-A")
    git(overlays, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "Generated")
    git(overlays, "remote", "add", "origin", str(origin))
    git(overlays, "push", "--quiet", "origin", "main")
    git(remote, "clone", "--quiet", "-b", "main", str(origin), str(other))
    git(other, "config", "user.name", "Someone")
    git(other, "config", "user.email", "someone@example.com")
    return Repo(overlays, origin, other)


def stage(digest: str, version: str, *options: str) -> int:
    return main(
        ["deploy", "stage", "--image", IMAGE, "--digest", digest, "--model-version", version, *options]
    )


def register(params: dict, *metrics: float) -> str:
    """Register one version per value, tagged with that primary metric as `register` tags it."""
    registry, name = client(), params["mlflow"]["registered_model"]
    key = f"metric.{params['evaluate']['primary_metric']}"
    if not registry.search_registered_models(f"name = '{name}'"):
        registry.create_registered_model(name)
    for value in metrics:
        registry.create_model_version(name, source=str(Path.cwd() / "model"), tags={key: f"{value:g}"})
    return name


def client() -> mlflow.MlflowClient:
    """The scratch store's client (the commands set MLflow's process-wide URI, maybe to another)."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def aliases(name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client().get_registered_model(name).aliases.items()}


# The release files.


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_generated_release_files_round_trip_byte_for_byte(overlays, environment):
    file = overlays / path(environment)
    generated = file.read_bytes()
    release = read(environment)
    assert release.environment == environment and not release.released
    assert release.digest is None and release.version is None
    assert render(release, PACKAGE).encode() == generated
    write(release)
    assert file.read_bytes() == generated


@pytest.mark.parametrize(
    ("image", "model", "version"),
    [
        (IMAGE, "demo", "1"),
        ("registry.example.com:5000/team/sub/model-svc", "123", "42"),  # a model name YAML would read as int
        ("ghcr.io/acme/demo_x.y", "true", "7"),  # ... or as a boolean
    ],
)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_any_release_reads_back_as_written_and_back_to_unreleased_is_the_generated_file(
    overlays, environment, image, model, version
):
    generated = read(environment)
    release = generated.runs(image, B, model, version)
    write(release)
    assert read(environment) == release and read(environment).released
    text = (overlays / path(environment)).read_text()
    assert render(read(environment), PACKAGE) == text
    assert f"  digest: {B}\n" in text and "newTag" not in text
    write(replace(read(environment), image=generated.image, model=generated.model, digest=None, version=None))
    assert (overlays / path(environment)).read_bytes() == (ROOT / path(environment)).read_bytes()


def test_an_edited_image_name_round_trips(overlays):
    file = overlays / STAGING
    edited = file.read_text().replace(read("staging").image, "registry.example.com:5000/team/model")
    file.write_text(edited)
    assert read("staging").image == "registry.example.com:5000/team/model"
    assert render(read("staging"), PACKAGE) == edited


BROKEN = {
    "invalid YAML": "images: [\n  - name: x\ncommonAnnotations: {",
    "an empty file": "",
    "a list": "- images\n- commonAnnotations\n",
    "no images": "commonAnnotations: {org.mlflow.model.name: m, org.mlflow.model.version: '1'}\n",
    "two images": "images: [{name: a, newName: b}, {name: c, newName: d}]\n"
    "commonAnnotations: {org.mlflow.model.name: m, org.mlflow.model.version: '1'}\n",
    "an image that is a string": "images: [ghcr.io/acme/demo]\n"
    "commonAnnotations: {org.mlflow.model.name: m, org.mlflow.model.version: '1'}\n",
    "no version": "images: [{name: a, newName: b}]\ncommonAnnotations: {org.mlflow.model.name: m}\n",
    "a bad digest": "images: [{name: a, newName: b, digest: 'sha256:xyz'}]\n"
    "commonAnnotations: {org.mlflow.model.name: m, org.mlflow.model.version: '1'}\n",
}


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_a_malformed_release_file_is_a_one_sentence_error_naming_it(overlays, capsys, text):
    (overlays / PRODUCTION).write_text(text)
    with pytest.raises(UserError) as caught:
        read("production")
    assert PRODUCTION in str(caught.value)
    assert main(["deploy", "aliases"]) == 2  # reads both files before touching the registry
    assert PRODUCTION in one_sentence(capsys.readouterr().err)


def test_a_missing_release_file_says_the_overlay_is_missing(workdir, capsys):
    assert main(["deploy", "aliases"]) == 2
    assert one_sentence(capsys.readouterr().err).startswith(f"{STAGING} not found")


# deploy stage


def test_stage_pushes_the_staging_release_and_opens_one_pull_request(api, actions, repo):
    generated = read("staging")
    attestation = "https://github.com/acme/demo/attestations/5"
    assert stage(A, "1", "--attestation", attestation) == 0
    assert repo.branches() == ["deploy/staging", "main"]
    assert repo.changed("main", "deploy/staging") == [STAGING]
    assert git(repo.origin, "rev-parse", "deploy/staging^") == git(repo.origin, "rev-parse", "main")
    assert repo.show("deploy/staging", STAGING) == released("staging", A, "1")
    assert git(repo.origin, "log", "-1", "--format=%an|%s", "deploy/staging") == (
        "github-actions[bot]|Deploy model version 1 to staging"
    )
    assert api.calls() == [("GET", "/pulls"), ("POST", "/pulls")]
    (pull,) = api.issues.values()
    assert (pull["title"], pull["head"]["ref"], pull["base"]["ref"]) == (
        "Deploy model version 1 to staging",
        "deploy/staging",
        "main",
    )
    body = pull["body"]
    assert "| staging | now | proposed |" in body
    assert "| model version | none | 1 |" in body
    assert f"| image | `{generated.image}:unreleased` | `{IMAGE}@{A}` |" in body
    assert f"gh attestation verify oci://{IMAGE}@{A} -R {api.repo}\n" in body
    assert f"[its build provenance is attested]({attestation})" in body
    assert "in [this run](https://github.com/acme/demo/actions/runs/77)" in body
    assert "Opened with the workflow's GITHUB_TOKEN" in body and ".github/workflows/main.yml" in body
    outputs, summary = actions()
    assert outputs == {"proposed": "true", "pull": "1", "url": pull["html_url"]}
    assert "opened pull request #1" in summary


def test_a_later_stage_updates_the_pull_request_on_the_latest_main(api, actions, repo):
    assert stage(A, "1") == 0
    first = git(repo.origin, "rev-parse", "deploy/staging")
    git(repo.path, "switch", "--quiet", "--force", "main")  # the next run's checkout, at the same commit
    moved = repo.push_to_main({"README.md": "merged meanwhile\n"})  # main moves during the run
    assert stage(B, "2", "--token-kind", "app") == 0
    second = git(repo.origin, "rev-parse", "deploy/staging")
    assert git(repo.origin, "rev-parse", "deploy/staging^") == moved  # on top of the latest main
    assert subprocess.run(["git", "merge-base", "--is-ancestor", first, second], cwd=repo.origin).returncode
    assert repo.changed("main", "deploy/staging") == [STAGING]
    assert repo.show("deploy/staging", STAGING) == released("staging", B, "2")
    assert api.calls()[-2:] == [("GET", "/pulls"), ("PATCH", "/pulls/1")]
    (pull,) = api.issues.values()
    assert pull["title"] == "Deploy model version 2 to staging"
    assert "| model version | none | 2 |" in pull["body"] and f"`{IMAGE}@{B}`" in pull["body"]
    assert f"oci://{IMAGE}@{B} " in pull["body"] and A not in pull["body"]
    assert "GITHUB_TOKEN" not in pull["body"] and "attested" not in pull["body"]
    assert actions()[0]["pull"] == "1"


def test_the_same_release_again_keeps_the_branch_and_so_the_reviews(api, repo):
    assert stage(A, "1") == 0
    first = git(repo.origin, "rev-parse", "deploy/staging")
    git(repo.path, "switch", "--quiet", "--force", "main")
    assert stage(A, "1") == 0  # a re-run: a force-push of the same files would dismiss approvals
    assert git(repo.origin, "rev-parse", "deploy/staging") == first
    assert api.calls()[-2:] == [("GET", "/pulls"), ("PATCH", "/pulls/1")]


def test_staging_what_main_already_runs_proposes_nothing(api, actions, repo, capsys):
    assert stage(B, "2") == 0
    merged = repo.merge("deploy/staging")
    repo.checkout()
    requests = len(api.requests)
    assert stage(B, "2") == 0
    assert len(api.requests) == requests and git(repo.origin, "rev-parse", "main") == merged
    outputs, summary = actions()
    assert outputs["proposed"] == "false"
    assert f"staging already runs model version 2 (`{IMAGE}@{B}`) on main" in capsys.readouterr().out
    assert "nothing to propose" in summary
    assert stage(C, "2") == 0  # the same version in a new image is a new release
    assert actions()[0]["proposed"] == "true"
    assert "| model version | 2 | 2 |" in api.issues[1]["body"]


def test_stage_direct_commits_to_main_on_top_of_whatever_lands_meanwhile(api, actions, repo):
    before = repo.push_to_main({"README.md": "merged before the push\n"})  # after the run's checkout
    # And another change lands between this run's fetch and its push: the push is refused, and made
    # again on top of it.
    hook = repo.path / ".git/hooks/post-commit"
    hook.write_text(
        "\n".join(
            [
                "#!/bin/sh",
                "unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_PREFIX",
                f"[ -e '{repo.path}/.git/raced' ] && exit 0",
                f"touch '{repo.path}/.git/raced'",
                f"cd '{repo.other}' && git pull -q --ff-only origin main && echo raced > race.txt",
                "git add race.txt && git commit -qm 'Landed during the push' && git push -q origin main\n",
            ]
        )
    )
    hook.chmod(0o755)
    assert stage(A, "1", "--direct") == 0
    tip = git(repo.origin, "rev-parse", "main")
    parent = git(repo.origin, "rev-parse", "main^")
    assert git(repo.origin, "log", "-1", "--format=%s", parent) == "Landed during the push"
    assert git(repo.origin, "rev-parse", f"{parent}^") == before
    assert repo.changed(parent, "main") == [STAGING]
    assert repo.show("main", STAGING) == released("staging", A, "1")
    assert repo.branches() == ["main"] and api.requests == []
    outputs, summary = actions()
    assert outputs == {"proposed": "true", "commit": tip}
    assert f"committed staging's release to main at {tip[:7]}" in summary


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--digest", "sha256:abc"),
        ("--digest", f"sha256:{'A' * 64}"),
        ("--digest", "a" * 64),
        ("--image", "ghcr.io/acme/demo:latest"),
        ("--image", f"ghcr.io/acme/demo@{A}"),
        ("--image", "ghcr.io/Acme/demo"),
        ("--image", "demo"),
        ("--model-version", ""),
        ("--model-version", "none"),
        ("--model-version", "v1"),
    ],
)
def test_a_bad_stage_argument_is_one_sentence_before_any_push(api, repo, capsys, option, value):
    arguments = {"--image": IMAGE, "--digest": A, "--model-version": "1", option: value}
    assert main(["deploy", "stage", *(x for pair in arguments.items() for x in pair)]) == 2
    assert one_sentence(capsys.readouterr().err).startswith(f"{option} {value!r} is not")
    assert repo.branches() == ["main"] and api.requests == []


def test_a_malformed_staging_file_stops_stage_before_any_push(api, repo, capsys):
    (repo.path / STAGING).write_text(BROKEN["two images"])
    assert stage(A, "1") == 2
    assert STAGING in one_sentence(capsys.readouterr().err)
    assert repo.branches() == ["main"] and api.requests == []


# deploy promote


def test_promote_refuses_while_staging_runs_no_release(api, repo, capsys):
    assert main(["deploy", "promote"]) == 2
    assert one_sentence(capsys.readouterr().err).startswith("staging runs no release yet")
    assert repo.branches() == ["main"] and api.requests == []


@pytest.fixture
def staged(repo, params):
    """Main runs version 1 (image digest A) in production and version 2 (digest B) in staging."""
    register(params, 0.9, 0.95)
    repo.push_to_main({PRODUCTION: released("production", A, "1"), STAGING: released("staging", B, "2")})
    repo.checkout()
    return repo


def test_promote_proposes_stagings_release_for_production_with_the_registrys_metrics(
    api, actions, staged, params
):
    assert main(["deploy", "promote", "--reason", "Staging has served it for a week."]) == 0
    assert staged.branches() == ["deploy/production", "main"]
    assert staged.changed("main", "deploy/production") == [PRODUCTION]
    assert staged.show("deploy/production", PRODUCTION) == released("production", B, "2")
    (pull,) = api.issues.values()
    assert (pull["title"], pull["head"]["ref"]) == (
        "Deploy model version 2 to production",
        "deploy/production",
    )
    body = pull["body"]
    assert "> Staging has served it for a week.\n" in body
    assert "| production | now | proposed |" in body
    assert "| model version | 1 | 2 |" in body
    assert f"| image | `{IMAGE}@{A}` | `{IMAGE}@{B}` |" in body
    assert f"| {params['evaluate']['primary_metric']} | 0.9 | 0.95 |" in body
    assert "metrics are not shown" not in body
    assert f"gh attestation verify oci://{IMAGE}@{B} -R {api.repo}\n" in body
    assert ".github/workflows/production.yml" in body
    assert actions()[0] == {"proposed": "true", "pull": "1", "url": pull["html_url"]}


def test_promote_without_the_registry_still_opens_the_pull_request_and_says_why(api, staged, monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    scratch = os.environ["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", down)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    assert main(["deploy", "promote"]) == 0
    mlflow.set_tracking_uri(scratch)  # the command set MLflow's process-wide URI to the one down
    (pull,) = api.issues.values()
    body = pull["body"]
    assert "| model version | 1 | 2 |" in body
    (line,) = [line for line in body.splitlines() if "metrics are not shown" in line]
    assert line.startswith(
        f"The registry's metrics are not shown: cannot reach the MLflow tracking server at {down}"
    )
    assert line.endswith(".") and not line.endswith("..")


def test_promoting_what_production_already_runs_proposes_nothing(api, actions, staged):
    staged.push_to_main({PRODUCTION: released("production", B, "2")})
    staged.checkout()
    assert main(["deploy", "promote"]) == 0
    assert actions()[0] == {"proposed": "false"}
    assert staged.branches() == ["main"] and api.requests == []


# deploy aliases


def sync(capsys) -> list[str]:
    assert main(["deploy", "aliases"]) == 0
    return capsys.readouterr().out.split("\n\n")[0].splitlines()


def test_aliases_follow_the_overlays_and_never_touch_the_champion(overlays, params, actions, capsys):
    name = register(params, 0.9, 0.95, 0.97)
    client().set_registered_model_alias(name, "champion", "3")
    assert sync(capsys) == [
        f"{name}@staging: version none, unchanged",
        f"{name}@production: version none, unchanged",
    ]
    assert actions()[0] == {"changed": "false"}

    write(read("staging").runs(IMAGE, B, name, "2"))
    write(read("production").runs(IMAGE, A, name, "1"))
    assert sync(capsys) == [
        f"{name}@staging: version 2 (was none)",
        f"{name}@production: version 1 (was none)",
    ]
    assert aliases(name) == {"champion": "3", "staging": "2", "production": "1"}
    assert actions()[0] == {"changed": "true"}

    production = (overlays / PRODUCTION).read_text()
    write(read("production").runs(IMAGE, B, name, "2"))  # a promotion merged
    sync(capsys)
    assert aliases(name) == {"champion": "3", "staging": "2", "production": "2"}
    (overlays / PRODUCTION).write_text(production)  # and reverted
    assert sync(capsys)[1] == f"{name}@production: version 1 (was 2)"
    assert aliases(name) == {"champion": "3", "staging": "2", "production": "1"}

    shutil.copy(ROOT / STAGING, overlays / STAGING)  # staging back to the generated file: no release
    assert sync(capsys)[0] == f"{name}@staging: removed (was version 2); the overlay names no release"
    assert aliases(name) == {"champion": "3", "production": "1"}
    assert sync(capsys) == [
        f"{name}@staging: version none, unchanged",
        f"{name}@production: version 1, unchanged",
    ]
    assert [n.name for n in client().search_registered_models()] == [name]  # the lock is gone


def test_a_version_the_registry_lacks_changes_no_alias(overlays, params, capsys):
    name = register(params, 0.9, 0.95)
    write(read("production").runs(IMAGE, A, name, "1"))
    sync(capsys)
    write(read("staging").runs(IMAGE, B, name, "2"))  # would move staging, but production is wrong:
    write(read("production").runs(IMAGE, C, name, "9"))
    assert main(["deploy", "aliases"]) == 2
    message = one_sentence(capsys.readouterr().err)
    assert message.startswith(f"{PRODUCTION} names version 9 of {name}, which the registry at ")
    assert aliases(name) == {"production": "1"}


def test_aliases_of_a_model_not_registered_yet(overlays, params, capsys):
    name = params["mlflow"]["registered_model"]
    assert sync(capsys)[0] == f"{name}@staging: version none, unchanged"  # nothing to set: no error
    write(read("staging").runs(IMAGE, A, name, "1"))
    assert main(["deploy", "aliases"]) == 2
    assert one_sentence(capsys.readouterr().err).startswith(f"{STAGING} names version 1 of {name}")


# The whole loop: git is the source of truth, and a revert is the rollback.


def test_stage_promote_and_a_revert_move_the_aliases(api, repo, params, capsys):
    name = register(params, 0.9, 0.95)
    assert stage(A, "1") == 0
    repo.merge("deploy/staging")
    repo.checkout()
    assert main(["deploy", "promote"]) == 0
    repo.merge("deploy/production")
    repo.checkout()
    sync(capsys)
    assert aliases(name) == {"staging": "1", "production": "1"}
    assert stage(B, "2") == 0
    repo.merge("deploy/staging")
    repo.checkout()
    assert main(["deploy", "promote"]) == 0
    (production,) = [p for p in api.issues.values() if p["head"]["ref"] == "deploy/production"]
    assert "| model version | 1 | 2 |" in production["body"]  # the same pull request, updated
    promotion = repo.merge("deploy/production")
    repo.checkout()
    sync(capsys)
    assert aliases(name) == {"staging": "2", "production": "2"}
    git(repo.other, "pull", "--quiet", "--ff-only", "origin", "main")
    git(repo.other, "revert", "--no-edit", "-m", "1", promotion)
    git(repo.other, "push", "--quiet", "origin", "main")
    repo.checkout()
    assert read("production") == read_generated("production").runs(IMAGE, A, name, "1")
    sync(capsys)
    assert aliases(name) == {"staging": "2", "production": "1"}
