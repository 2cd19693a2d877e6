"""Shared fixtures: each test runs in a scratch copy of the project's configuration."""

import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data import load_source
from {{ cookiecutter.package_name }}.params import load_params, load_schema

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def source_frame():
    params = load_params(ROOT / "params.yaml")
    return load_source(params["data"]["source"], root=ROOT)
