"""Shared fixtures: each test runs in a scratch copy of the project's configuration."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.params import load_params, load_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch):
    """No variables of a surrounding workflow run (pr.yml runs these tests): a test sets what it needs.

    Otherwise a test would write into the run's job summary and outputs, and tag its models
    with the run's branch and commit.
    """
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GIT_CONFIG_", "RUNNER_")) or name in ("CI", "DRIFT_CURRENT"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables created: creating them takes seconds, copying it does not."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(path.parent)  # MLflow resolves its default artifact root against the directory
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch, empty_mlflow_store):
    """A directory laid out like the project root, with its own MLflow store."""
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(empty_mlflow_store, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


@pytest.fixture
def params(workdir):
    return load_params()


@pytest.fixture
def schema(workdir):
    return load_schema()


def frame_from_schema(schema: dict, task: str, rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Rows that satisfy schema.yaml, with a target the features predict.

    The tests run on this, not on the data file: they hold for any data the schema admits, and
    they run where the data is not (CI tests before `dvc pull`).
    """
    rng = np.random.default_rng(seed)
    frame, signal = {}, np.zeros(rows)
    for name, spec in schema["features"].items():
        share = rng.random(rows)  # where each row sits in the column's range or list
        if spec.get("allowed"):
            values = np.array(spec["allowed"], dtype=object)
            column = values[np.minimum((share * len(values)).astype(int), len(values) - 1)]
        else:
            low = spec.get("min", 0 if spec.get("max") is None else spec["max"] - 100)
            high = spec.get("max", low + 100)
            column = low + share * (high - low)
            if spec.get("dtype") == "int":
                column = np.clip(np.round(column), np.ceil(low), np.floor(high)).astype(int)
            column = column.astype(object)
        if spec.get("nullable"):
            column[rng.random(rows) < 0.1] = None
        frame[name], signal = column, signal + share
    signal += rng.normal(0, 0.1, rows)
    target = schema["target"]
    if task == "classification":
        classes = np.array(target["allowed"], dtype=object)
        edges = np.quantile(signal, np.linspace(0, 1, len(classes) + 1)[1:-1])
        frame[target["name"]] = classes[np.searchsorted(edges, signal)]
    else:
        low, high = target.get("min", 0), target.get("max", 100)
        span = (signal - signal.min()) / (signal.max() - signal.min())
        frame[target["name"]] = low + span * (high - low)
    return pd.DataFrame(frame).infer_objects()


@pytest.fixture(scope="session")
def source_frame():
    """Data of the project's schema (see frame_from_schema)."""
    return frame_from_schema(load_schema(ROOT / "schema.yaml"), load_params(ROOT / "params.yaml")["task"])


@pytest.fixture(scope="session")
def service():
    # The module reads params.yaml and schema.yaml of the directory it is served from.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        from {{ cookiecutter.package_name }} import service

        return service
