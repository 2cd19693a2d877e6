"""The Bento of a generated project, built by its `bento` command and served by `bentoml serve`.

The Bento is served as its image would serve it: from the exported Docker build context (the
Bento with its model, no model store), in a fresh environment made from the Bento's own pinned
requirements, so a package missing from them fails here.
"""

import json
import math

import pytest
import yaml

from .conftest import bake, clean_env
from .servers import Server, free_port, http

pytestmark = pytest.mark.slow

SINGLE_ROWS = 20
EXPECTED = """
import json, mlflow.sklearn, pandas as pd
from {pkg}.params import load_params, load_schema
from {pkg}.features import split_xy
from {pkg}.tracking import connect
params = load_params()
connect(params)
model = mlflow.sklearn.load_model(f"models:/{{params['mlflow']['registered_model']}}@champion")
x, _ = split_xy(pd.read_csv("data/processed/test.csv"), load_schema())
print(json.dumps({{
    "rows": x.to_dict(orient="records"),
    "predictions": model.predict(x).tolist(),
    "probabilities": [dict(zip(map(str, model.classes_), p)) for p in model.predict_proba(x).tolist()],
    "max_batch": params["service"]["max_batch"],
}}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("service")
    project = bake(work, project_name="service demo")
    home = {"BENTOML_HOME": str(work / "bentoml")}
    project.run("uv", "sync", "--quiet")
    project.run("uv", "run", "dvc", "repro")
    project.commit("pipeline reproduced")
    project.run("uv", "run", project.package, "register")
    project.run("uv", "run", project.package, "promote")
    context = work / "bento-context"
    built = project.run("uv", "run", project.package, "bento", "--export", str(context), **home).stdout
    expected = json.loads(
        project.run("uv", "run", "python", "-c", EXPECTED.format(pkg=project.package)).stdout
    )
    venv = work / "bento-env"
    project.run("uv", "venv", "--quiet", "--python", "3.11", str(venv))
    requirements = context / "env/python/requirements.txt"
    project.run(
        "uv", "pip", "install", "--quiet", "--python", str(venv / "bin/python"), "-r", str(requirements)
    )
    port = free_port()
    server = Server(
        [str(venv / "bin/bentoml"), "serve", str(context), "--host", "127.0.0.1"] + ["--port", str(port)],
        cwd=work,
        env=clean_env(
            BENTOML_HOME=str(work / "empty-home"),
            MONITORING_DIR=str(work / "monitoring"),
            PATH=f"{venv / 'bin'}:/usr/bin:/bin",
        ),
        log=work / "bentoml-serve.log",
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
    try:
        server.wait()
        url = f"http://127.0.0.1:{port}"
        singles = [http("POST", f"{url}/predict", row) for row in expected["rows"][:SINGLE_ROWS]]
        size = expected["max_batch"]
        batches = [
            http("POST", f"{url}/predict_batch", expected["rows"][i : i + size])
            for i in range(0, len(expected["rows"]), size)
        ]
        yield {
            "url": url,
            "built": built,
            "bento": context,
            "project": project,
            "expected": expected,
            "singles": singles,
            "batches": batches,
            "monitoring": work / "monitoring",
            "server": server,
        }
    finally:
        server.stop()


def test_the_bento_pins_its_packages_and_records_the_champion(served):
    assert "serving model version 1" in served["built"]
    info = yaml.safe_load((served["bento"] / "bento.yaml").read_text())
    assert info["labels"]["model_version"] == "1"
    assert info["args"]["model"].startswith("service-demo:")
    assert (served["bento"] / "env/docker/Dockerfile").is_file()
    assert list((served["bento"] / "models").glob("service-demo/*/mlflow_model/MLmodel"))
    requirements = (served["bento"] / "env/python/requirements.txt").read_text().splitlines()
    packages = [line for line in requirements if line and not line.startswith(("#", "-"))]
    assert packages and all("==" in line for line in packages), packages
    names = {line.split("==")[0] for line in packages}
    assert {"bentoml", "mlflow-skinny", "scikit-learn", "skops"} <= names
    assert "dvc" not in names and "matplotlib" not in names  # the service image carries only what it imports


def test_health_and_metrics_endpoints(served):
    for path in ("/livez", "/readyz"):
        assert http("GET", served["url"] + path)[0] == 200
    status, text = http("GET", served["url"] + "/metrics")
    assert status == 200 and "bentoml_service_request_total" in text


def test_single_predictions_are_the_champions(served):
    expected = served["expected"]
    for i, (status, body) in enumerate(served["singles"]):
        assert status == 200, body
        assert body == {
            "prediction": expected["predictions"][i],
            "probabilities": expected["probabilities"][i],
            "model_version": "1",
        }


def test_batch_predictions_are_the_champions(served):
    expected = served["expected"]
    assert [status for status, _ in served["batches"]] == [200] * len(served["batches"])
    assert len(served["batches"]) > 1  # the test split is larger than one batch
    assert [p for _, body in served["batches"] for p in body["predictions"]] == expected["predictions"]
    assert [p for _, body in served["batches"] for p in body["probabilities"]] == expected["probabilities"]
    assert {body["model_version"] for _, body in served["batches"]} == {"1"}


def bad_requests(row: dict, max_batch: int) -> dict[str, tuple[str, bytes]]:
    first = next(iter(row))
    as_json = json.dumps(row)
    return {
        "missing field": ("/predict", json.dumps({k: v for k, v in row.items() if k != first}).encode()),
        "wrong type": ("/predict", json.dumps({**row, first: "12.5"}).encode()),
        "extra field": ("/predict", json.dumps({**row, "surprise": 1.0}).encode()),
        "out of range": ("/predict", json.dumps({**row, first: 1e9}).encode()),
        "NaN": (
            "/predict",
            as_json.replace(f'"{first}": {json.dumps(row[first])}', f'"{first}": NaN').encode(),
        ),
        "inf": (
            "/predict",
            as_json.replace(f'"{first}": {json.dumps(row[first])}', f'"{first}": Infinity').encode(),
        ),
        "empty batch": ("/predict_batch", b"[]"),
        "batch over the limit": ("/predict_batch", json.dumps([row] * (max_batch + 1)).encode()),
        "bad row in a batch": ("/predict_batch", json.dumps([row, {**row, first: None}]).encode()),
        "not JSON": ("/predict", b"mean radius is 12"),
        "JSON but not an object": ("/predict", b"[1, 2, 3]"),
    }


def test_every_bad_request_gets_a_400_naming_the_problem(served):
    row = served["expected"]["rows"][0]
    first = next(iter(row))
    for case, (path, raw) in bad_requests(row, served["expected"]["max_batch"]).items():
        status, body = http("POST", served["url"] + path, raw=raw)
        assert status == 400, (case, status, body)
        assert body["error"] and body["detail"][0]["msg"], case
        locations = [tuple(d["loc"]) for d in body["detail"]]
        if case in ("missing field", "wrong type", "out of range", "NaN", "inf"):
            assert locations == [(first,)], (case, body)
        if case == "extra field":
            assert locations == [("surprise",)]
        if case == "bad row in a batch":
            assert locations == [("root", 1, first)]


def test_the_monitoring_log_has_one_record_per_predicted_row(served):
    files = sorted(served["monitoring"].glob("predictions-*.jsonl"))
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    expected = served["expected"]
    assert len(records) == SINGLE_ROWS + len(expected["rows"])
    assert [r["features"] for r in records[:SINGLE_ROWS]] == expected["rows"][:SINGLE_ROWS]
    assert [r["prediction"] for r in records[SINGLE_ROWS:]] == expected["predictions"]
    assert all(r["model_version"] == "1" and r["time"].endswith("Z") for r in records)
    assert all(
        len(r["probabilities"]) == 2 and math.isclose(sum(r["probabilities"].values()), 1) for r in records
    )


def test_make_bento_and_serve_call_the_project_commands(served):
    project = served["project"]
    assert f"uv run {project.package} bento" in project.run("make", "-n", "bento").stdout
    assert f"uv run {project.package} serve --port 3000" in project.run("make", "-n", "serve").stdout
    assert (
        f"uv run {project.package} serve --port 3123"
        in project.run("make", "-n", "serve", "PORT=3123").stdout
    )
