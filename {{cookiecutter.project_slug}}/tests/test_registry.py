"""The registry commands against a temporary SQLite MLflow store, as the workflow runs them.

The gate is tested on models whose rank is certain, whatever the project's own data and
parameters: a dataset made here, where the label depends on one feature linearly and on
the sign of a product of two others, which no linear model can learn. Heavily regularised,
a linear model predicts the majority class or the mean (below the floors); a plain one
learns only the linear part (mediocre); a random forest learns both (better).
"""

import json
import socket
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.registry import NOT_PROMOTED
from {{ cookiecutter.package_name }}.split import TEST_PATH, TRAIN_PATH
from {{ cookiecutter.package_name }}.tracking import file_md5

# Per task: the models, through params.yaml, and the gate the tests set.
MODELS = {
    "classification": {
        "worse": {"model": "logistic_regression", "hyperparameters": {"C": 1e-6}},
        "mediocre": {"model": "logistic_regression", "hyperparameters": {"C": 1.0}},
        "better": {"model": "random_forest", "hyperparameters": {"n_estimators": 50, "n_jobs": 1}},
    },
    "regression": {
        "worse": {"model": "ridge", "hyperparameters": {"alpha": 1e7}},
        "mediocre": {"model": "ridge", "hyperparameters": {"alpha": 1.0}},
        "better": {"model": "random_forest", "hyperparameters": {"n_estimators": 50, "n_jobs": 1}},
    },
}
# Measured on this data: accuracy 0.51 / 0.75 / 0.95 and roc_auc 0.87 / 0.87 / 0.98;
# r2 0.0 / 0.55 / 0.8 and rmse 74 / 49 / 33.
GATE = {
    "classification": {"primary_metric": "roc_auc", "floors": {"accuracy": 0.65}, "min_improvement": 0.01},
    "regression": {"primary_metric": "rmse", "floors": {"r2": 0.3}, "min_improvement": 1.0},
}


def known_data(task: str, rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(rows, 5))
    score = x[:, 0] + 0.5 * np.sign(x[:, 1] * x[:, 2])  # x3 and x4 are noise
    frame = pd.DataFrame(x.round(6), columns=[f"x{i}" for i in range(5)])
    if task == "classification":
        frame["label"] = (score > 0).astype(int)
    else:
        frame["label"] = np.round(100 + 100 * score + rng.normal(0, 5, rows), 3)
    return frame


@pytest.fixture
def params(workdir):
    """The project's params.yaml with this module's gate, beside this module's data and schema."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    task = params["task"]
    gate = GATE[task]
    params["evaluate"] = {"primary_metric": gate["primary_metric"]}
    params["promotion"] = {"min_improvement": gate["min_improvement"], "floors": gate["floors"]}
    params["train"] = {"seed": 0, **MODELS[task]["mediocre"]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    frame = known_data(task)
    target = {"name": "label", "dtype": "int", "allowed": [0, 1]}
    if task == "regression":
        target = {"name": "label", "dtype": "float"}
    features = {name: {"dtype": "float", "min": -1, "max": 1} for name in frame.columns[:-1]}
    (workdir / "schema.yaml").write_text(yaml.safe_dump({"target": target, "features": features}))
    (workdir / TRAIN_PATH).parent.mkdir(parents=True)
    frame.iloc[:400].to_csv(workdir / TRAIN_PATH, index=False)
    frame.iloc[400:].to_csv(workdir / TEST_PATH, index=False)
    return params


@pytest.fixture
def project(params, workdir, monkeypatch):
    """`train(commit, rank)` trains the model of that rank as that commit's pipeline would."""
    monkeypatch.setenv("GITHUB_REF_NAME", "main")

    def train(commit: str, rank: str) -> None:
        params["train"] = {"seed": 0, **MODELS[params["task"]][rank]}
        (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        monkeypatch.setenv("GITHUB_SHA", commit * 40)
        assert main(["train"]) == 0

    return train


def client():
    return mlflow.MlflowClient()


def aliases(params) -> dict[str, str]:
    model = client().get_registered_model(params["mlflow"]["registered_model"])
    return {alias: str(version) for alias, version in model.aliases.items()}


def test_register_logs_the_missing_run_tags_lineage_and_is_idempotent(project, params, workdir, capsys):
    project("a", "mediocre")
    assert main(["register"]) == 0  # no `evaluate` ran: register logs the model's run itself
    assert main(["register"]) == 0
    name = params["mlflow"]["registered_model"]
    (version,) = client().search_model_versions(f"name = '{name}'")
    runs = mlflow.search_runs(experiment_names=[params["mlflow"]["experiment"]], output_format="list")
    assert len(runs) == 1
    tags = version.tags
    assert tags["git.commit"] == "a" * 40 and tags["git.branch"] == "main"
    assert tags["model.md5"] == file_md5(workdir / "models/model.joblib")
    assert tags["data.train.md5"] == file_md5(workdir / "data/processed/train.csv")
    assert tags["param.model"] == params["train"]["model"] and tags["param.seed"] == "0"
    assert float(tags[f"metric.{params['evaluate']['primary_metric']}"]) > 0
    assert version.run_id == runs[0].info.run_id
    out = capsys.readouterr().out
    assert f"registered version 1 of {name}" in out and "already is version 1" in out


def test_register_reuses_the_run_evaluate_logged(project, params):
    project("a", "mediocre")
    assert main(["evaluate"]) == 0
    assert main(["register"]) == 0
    runs = mlflow.search_runs(experiment_names=[params["mlflow"]["experiment"]], output_format="list")
    (version,) = client().search_model_versions(f"name = '{params['mlflow']['registered_model']}'")
    assert len(runs) == 1 and version.run_id == runs[0].info.run_id


def test_the_gate_promotes_only_a_better_version_and_rollback_restores(
    project, params, tmp_path, monkeypatch, capsys
):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    metric = params["evaluate"]["primary_metric"]

    project("a", "mediocre")
    assert main(["register"]) == 0
    assert main(["promote"]) == 0  # no champion yet: passing the floors is enough
    assert aliases(params) == {"champion": "1"}
    assert main(["promote"]) == 0  # again: it already is the champion
    assert "already is the champion" in capsys.readouterr().out

    project("b", "worse")
    assert main(["register"]) == 0
    summary.write_text("")
    assert main(["promote"]) == NOT_PROMOTED
    assert aliases(params) == {"champion": "1", "challenger": "2"}
    text = summary.read_text()
    assert "not promoted" in text and "version 2 (new)" in text and "version 1 (champion)" in text
    assert f"{metric} " in text and "worse than its floor" in text
    assert "promoted=false" in outputs.read_text()

    project("c", "better")
    assert main(["register"]) == 0
    assert main(["promote"]) == 0
    assert aliases(params) == {"champion": "3", "previous-champion": "1", "challenger": "2"}
    assert outputs.read_text().splitlines()[-3:] == ["promoted=true", "version=3", "champion=3"]

    assert main(["rollback"]) == 0
    assert aliases(params)["champion"] == "1" and aliases(params)["previous-champion"] == "3"
    assert main(["rollback", "--version", "3"]) == 0
    assert aliases(params)["champion"] == "3"

    capsys.readouterr()
    assert main(["show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["version", "aliases", "commit", "branch"]
    assert lines[1].split()[:3] == ["3", "champion", "c" * 7]
    assert lines[2].split()[:2] == ["2", "challenger"]


def test_a_first_version_below_the_floors_is_not_promoted(project, params):
    project("a", "worse")
    assert main(["register"]) == 0
    assert main(["promote"]) == NOT_PROMOTED
    assert aliases(params) == {"challenger": "1"}


def test_release_registers_then_gates_in_one_command(project, params, workdir, monkeypatch, capsys):
    outputs = workdir / "outputs"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))

    def release() -> tuple[int, dict[str, str]]:
        outputs.write_text("")
        status = main(["release"])
        return status, dict(line.split("=", 1) for line in outputs.read_text().splitlines())

    project("a", "mediocre")
    assert release() == (0, {"version": "1", "created": "true", "promoted": "true", "champion": "1"})
    assert "registered version 1" in capsys.readouterr().out
    assert release() == (0, {"version": "1", "created": "false", "promoted": "true", "champion": "1"})
    assert "it already is the champion" in capsys.readouterr().out
    project("b", "worse")
    status, _ = release()
    assert status == NOT_PROMOTED
    assert aliases(params) == {"champion": "1", "challenger": "2"}


def test_mistakes_are_one_line_errors(project, params, workdir, capsys):
    project("a", "mediocre")
    assert main(["promote"]) == 2
    assert "run `register` first" in capsys.readouterr().err
    assert main(["rollback"]) == 2
    assert "no champion to roll back from" in capsys.readouterr().err
    assert main(["register"]) == 0
    assert main(["promote", "--version", "9"]) == 2
    assert "version 9 of" in capsys.readouterr().err
    assert main(["promote"]) == 0
    assert main(["rollback"]) == 2
    assert "no previous-champion" in capsys.readouterr().err
    params["promotion"]["floors"] = {"not_a_metric": 1}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["promote", "--version", "1"]) == 0  # already champion: nothing to gate
    project("b", "worse")
    assert main(["register"]) == 0
    assert main(["promote"]) == 2
    assert "names 'not_a_metric'" in capsys.readouterr().err


@pytest.fixture
def black_hole():
    """A port that accepts connections and never answers, as a hung server does."""
    listener = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_server_that_is_down_or_hung_is_one_sentence(workdir, monkeypatch, capsys, black_hole):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")  # the user's own setting wins
    with socket.create_server(("127.0.0.1", 0)) as closed:
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for uri, cause in ((down, "ConnectionError"), (black_hole, "ReadTimeout")):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        assert main(["show"]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: cannot reach the MLflow tracking server at {uri} ({cause}); check MLFLOW_TRACKING_URI "
            "and its credentials, or unset it to use the local SQLite file.\n"
        )


def names_on_server() -> set[str]:
    return {model.name for model in client().search_registered_models()}


def test_a_command_cut_short_is_completed_by_the_next_one(project, params, workdir, capsys):
    """A rollback that recorded its writes and set only the first is finished, not repeated."""
    name = params["mlflow"]["registered_model"]
    project("a", "mediocre")
    assert main(["release"]) == 0
    project("c", "better")
    assert main(["release"]) == 0
    assert aliases(params) == {"champion": "2", "previous-champion": "1"}
    # What `rollback` writes before its aliases, and its first alias; then the process died.
    entry = {"op": "rollback", "aliases": {"champion": "1", "previous-champion": "2"}, "drop": [], "tags": {}}
    client().set_registered_model_tag(name, "registry.pending", json.dumps(entry))
    client().set_registered_model_alias(name, "champion", "1")
    assert main(["rollback"]) == 0
    assert "champion is version 1, previous-champion is version 2" in capsys.readouterr().out
    assert aliases(params) == {"champion": "1", "previous-champion": "2"}
    assert "registry.pending" not in client().get_registered_model(name).tags
    assert names_on_server() == {name}  # the lock is gone with the command


def test_a_dead_holders_lock_expires_and_a_live_one_is_waited_for(project, params, workdir, capsys):
    name = params["mlflow"]["registered_model"]
    params["promotion"]["lock_seconds"] = 1
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project("a", "mediocre")
    client().create_registered_model(f"{name}.lock", tags={"holder": "gone:1:x", "expires": "0"})
    assert main(["release"]) == 0  # the holder died long ago
    assert names_on_server() == {name}
    forever = str(time.time() + 3600)
    client().create_registered_model(f"{name}.lock", tags={"holder": "busy:2:y", "expires": forever})
    assert main(["rollback", "--version", "1"]) == 2
    assert f"{name} is locked by another registry command (busy:2:y)" in capsys.readouterr().err


def test_unfinished_runs_and_unloadable_versions_are_never_used(project, params, workdir, capsys):
    name = params["mlflow"]["registered_model"]
    project("a", "mediocre")
    md5 = file_md5(workdir / "models/model.joblib")
    mlflow.set_experiment(params["mlflow"]["experiment"])
    mlflow.start_run(tags={"model.md5": md5})  # a run whose process died before its model was logged
    mlflow.end_run("RUNNING")
    assert main(["release"]) == 0
    (version,) = client().search_model_versions(f"name = '{name}'")
    assert client().get_run(version.run_id).info.status == "FINISHED"
    project("c", "better")
    assert main(["release"]) == 0
    # Version 1's model files lose their MLmodel, as an upload cut short would leave them.
    source = Path(client().get_model_version_download_uri(name, "1"))
    next(source.rglob("MLmodel")).unlink()
    assert main(["rollback"]) == 2
    assert "version 1 of" in capsys.readouterr().err and aliases(params)["champion"] == "2"
