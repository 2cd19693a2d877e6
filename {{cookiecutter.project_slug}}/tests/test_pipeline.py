"""The whole pipeline through the command line, as DVC runs it, on rows made from schema.yaml."""

import json

import mlflow
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.tracking import file_md5


@pytest.fixture
def own_source(workdir, source_frame):
    """The source is a CSV of rows made from schema.yaml: the pipeline runs on any project's schema."""
    (workdir / "data" / "source").mkdir(parents=True)
    source_frame.to_csv(workdir / "data" / "source" / "rows.csv", index=False)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["data"].update(source="data/source/rows.csv", min_rows=1)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return workdir


@pytest.fixture
def ran_pipeline(own_source):
    workdir = own_source
    for stage in ("ingest", "validate", "split", "train", "evaluate"):
        assert main([stage]) == 0, stage
    return workdir


def test_pipeline_writes_metrics_and_logs_the_run(ran_pipeline, params):
    metrics = json.loads((ran_pipeline / "metrics.json").read_text())
    assert params["evaluate"]["primary_metric"] in metrics
    runs = mlflow.search_runs(experiment_names=[params["mlflow"]["experiment"]], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.metrics == pytest.approx(metrics)
    assert run.data.params["model"] == params["train"]["model"]
    assert run.data.tags["data.train.md5"] == file_md5(ran_pipeline / "data/processed/train.csv")
    assert run.data.tags["model.md5"] == file_md5(ran_pipeline / "models/model.joblib")
    assert "git.commit" in run.data.tags


def test_logged_model_predicts_like_the_pipeline_model(ran_pipeline, params, schema):
    import joblib

    run = mlflow.search_runs(experiment_names=[params["mlflow"]["experiment"]], output_format="list")[0]
    logged = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    local = joblib.load(ran_pipeline / "models/model.joblib")
    test = pd.read_csv(ran_pipeline / "data/processed/test.csv").drop(columns=[schema["target"]["name"]])
    assert list(logged.predict(test)) == list(local.predict(test))


def out_of_contract(spec: dict):
    """A value the schema refuses for a column of this spec, or None if it bounds nothing."""
    if spec.get("min") is not None:
        return spec["min"] - 1
    if spec.get("max") is not None:
        return spec["max"] + 1
    if spec.get("allowed") and not spec.get("allow_unknown"):
        return "not-an-allowed-value" if spec.get("dtype") == "category" else max(spec["allowed"]) + 1
    return None


def test_bad_raw_data_stops_the_pipeline_with_the_column(own_source, schema, capsys):
    assert main(["ingest"]) == 0
    raw = pd.read_csv("data/raw/dataset.csv")
    column, value = next(
        (name, out_of_contract(spec))
        for name, spec in [*schema["features"].items(), (schema["target"]["name"], schema["target"])]
        if out_of_contract(spec) is not None
    )
    raw[column] = raw[column].astype(object)
    raw.loc[4, column] = value
    raw.to_csv("data/raw/dataset.csv", index=False)
    assert main(["validate"]) == 2
    assert f"column '{column}' has 1 values" in capsys.readouterr().err
