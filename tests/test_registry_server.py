"""The registry commands of a generated project against a real `mlflow server` (SQLite backend).

One project goes through a release history (tests/registry_history.py), a commit at a time: a
mediocre first model, a worse one (each through `register` then `promote`), a better one
(through `release`, both in one process, as main.yml runs it), then a rollback. The same server
then sees a `release` cut short at every one of its requests, and releases racing each other
(tests/registry_faults.py).
"""

import json
from pathlib import Path

import pytest

from .conftest import bake, clean_env
from .registry_compare import comparable
from .registry_history import release_history
from .servers import mlflow_server

pytestmark = pytest.mark.slow

NOT_PROMOTED = 3


DRIVER = Path(__file__).with_name("registry_faults.py")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A generated project and a real `mlflow server` for it."""
    work = tmp_path_factory.mktemp("registry")
    project = bake(work, project_name="registry demo")
    project.run("uv", "sync", "--quiet")
    server, uri = mlflow_server(project.path, work, clean_env())
    try:
        yield project, uri, work
    finally:
        server.stop()


@pytest.fixture(scope="module")
def history(served):
    project, uri, _ = served
    return release_history(project, uri)


def drive(served, mode: str) -> dict:
    project, uri, work = served
    out = work / f"{mode}.json"
    project.run("uv", "run", "python", str(DRIVER), project.package, uri, mode, str(out), timeout=1500)
    return json.loads(out.read_text())


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


def test_a_release_cut_short_at_any_request_ends_as_an_uninterrupted_one_when_run_again(served):
    result = drive(served, "faults")
    reference = result["reference"]
    assert reference["cut"]["status"] == 0, reference
    expected = comparable(reference["at_cut"])
    assert expected["aliases"] == {"champion": "2", "previous-champion": "1"} and not expected["lock"]
    assert all(v["loadable"] and v["run_status"] == "FINISHED" for v in expected["versions"].values())
    cases = {int(n): case for n, case in result["cases"].items()}
    assert sorted(cases) == list(range(1, reference["requests"] + 1)) and len(cases) > 20
    verified = [comparable(c["at_cut"]) for c in cases.values() if "again" in c]
    for n, case in sorted(cases.items()):
        cut = case["cut"]
        # The command that lost its server says so in one line, never a traceback (a cut at its
        # last request, freeing the lock, may go unnoticed: the lock then expires).
        if cut["status"] != 0:
            assert cut["status"] == 2 and "\n" not in cut["error"], (n, cut)
            assert "the MLflow tracking server at" in cut["error"], (n, cut)
        if "again" in case:  # the first cut to leave this state: run again, it ends as no cut does
            assert case["again"]["status"] == 0, (n, case["again"])
            assert comparable(case["state"]) == expected, n
        else:  # what the server holds decides what a run again does: this state was run again
            assert comparable(case["at_cut"]) in verified, n
    assert len(verified) > 5  # the lock, the version, the journal, the aliases, the tags


def test_racing_releases_crown_the_best_version_that_passed_the_gate(served):
    result = drive(served, "race")
    metric = f"metric.{result['metric']}"
    for race in result["rounds"]:
        assert set(race["exits"]) <= {0, NOT_PROMOTED}, race["stderr"]
        versions = race["state"]["versions"]
        assert len(versions) == 4  # one per model
        promoted = {n: v["tags"] for n, v in versions.items() if v["tags"].get("promotion") == "promoted"}
        aliases = race["state"]["aliases"]
        champion = aliases["champion"]
        assert champion == max(promoted, key=lambda n: float(promoted[n][metric]))
        replaced = [tags["promotion.replaced"] for tags in promoted.values()]
        assert len(set(replaced)) == len(replaced)  # each champion was replaced once: one at a time
        for tags in promoted.values():  # every promotion beat the champion it replaced
            if tags["promotion.replaced"] != "none":
                assert float(tags[metric]) > float(promoted[tags["promotion.replaced"]][metric])
        if promoted[champion]["promotion.replaced"] != "none":
            assert aliases["previous-champion"] == promoted[champion]["promotion.replaced"]
        assert not race["state"]["lock"] and "registry.pending" not in race["state"]["model_tags"]
