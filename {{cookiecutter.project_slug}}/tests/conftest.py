"""Shared fixtures: each test runs in a scratch copy of the project's configuration."""

import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data import load_source
from {{ cookiecutter.package_name }}.params import load_params, load_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A directory laid out like the project root, with its own MLflow store."""
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
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
