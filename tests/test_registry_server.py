"""The registry commands of a generated project against a real `mlflow server` (SQLite backend).

One project goes through a release history, a commit at a time: a mediocre first model, a
worse one (each through `register` then `promote`), a better one (through `release`, both in
one process, as main.yml runs it), then a rollback.
"""

import pytest

from .conftest import bake, clean_env
from .servers import mlflow_server, registry_state

pytestmark = pytest.mark.slow

NOT_PROMOTED = 3


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    work = tmp_path_factory.mktemp("registry")
    project = bake(work, project_name="registry demo")
    project.run("uv", "sync", "--quiet")
    server, uri = mlflow_server(project.path, work, clean_env())
    env = {"MLFLOW_TRACKING_URI": uri}
    pkg, name = project.package, "registry-demo"
    steps = {}

    def release(label: str, n_estimators: int, max_depth: int, one_process: bool = False) -> None:
        project.set_hyperparameters(n_estimators=n_estimators, max_depth=max_depth)
        project.run("uv", "run", "dvc", "repro", **env)  # evaluate logs the run to the server
        project.commit(label)
        if one_process:  # `release`, as main.yml runs it: register then promote
            steps[label] = {"gate": project.run("uv", "run", pkg, "release", check=False, **env)}
            return
        steps[label] = {
            "register": [project.run("uv", "run", pkg, "register", **env).stdout],
            "gate": project.run("uv", "run", pkg, "promote", check=False, **env),
        }

    def state() -> dict:
        return registry_state(project, name, uri)

    try:
        release("mediocre", 3, 2)
        steps["mediocre"]["register"].append(project.run("uv", "run", pkg, "register", **env).stdout)
        steps["mediocre"]["state"] = state()
        release("worse", 1, 1)
        steps["worse"]["state"] = state()
        release("better", 100, 8, one_process=True)
        steps["better"]["state"] = state()
        steps["rollback"] = {
            "run": project.run("uv", "run", pkg, "rollback", check=False, **env),
            "state": state(),
        }
        steps["show"] = project.run("uv", "run", pkg, "show", **env).stdout
        yield steps
    finally:
        server.stop()


def test_registering_twice_for_one_commit_gives_one_version(history):
    first, second = history["mediocre"]["register"]
    assert "registered version 1 of registry-demo" in first
    assert "already is version 1" in second
    assert history["mediocre"]["state"]["versions"] == ["1"]
    assert history["mediocre"]["state"]["runs"] == 1  # register reused the run that evaluate logged


def test_the_first_version_passing_the_floors_becomes_champion(history):
    promote = history["mediocre"]["gate"]
    assert promote.returncode == 0, promote.stderr
    assert "Model promotion: promoted" in promote.stdout
    assert history["mediocre"]["state"]["aliases"] == {"champion": "1"}


def test_a_worse_model_is_not_promoted_and_the_champion_stays(history):
    promote = history["worse"]["gate"]
    assert promote.returncode == NOT_PROMOTED, promote.stdout + promote.stderr
    assert "version 2 (new)" in promote.stdout and "version 1 (champion)" in promote.stdout
    assert "not promoted" in promote.stdout
    assert history["worse"]["state"]["aliases"] == {"champion": "1", "challenger": "2"}


def test_a_better_model_is_promoted_and_the_old_champion_kept(history):
    release = history["better"]["gate"]
    assert release.returncode == 0, release.stdout + release.stderr
    assert "registered version 3 of registry-demo" in release.stdout
    assert "Model promotion: promoted" in release.stdout
    assert history["better"]["state"]["aliases"] == {
        "champion": "3",
        "previous-champion": "1",
        "challenger": "2",
    }
    assert history["better"]["state"]["runs"] == 3


def test_rollback_restores_the_previous_champion(history):
    rollback = history["rollback"]
    assert rollback["run"].returncode == 0, rollback["run"].stderr
    assert rollback["state"]["aliases"]["champion"] == "1"
    assert rollback["state"]["aliases"]["previous-champion"] == "3"
    assert history["show"].splitlines()[3].split()[:2] == ["1", "champion"]
