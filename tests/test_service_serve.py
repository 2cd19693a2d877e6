"""The Bento of a generated project, built by its `bento` command and served by `bentoml serve`.

The Bento is served as its image would serve it: from the exported Docker build context (the
Bento with its model, no model store), in a fresh environment made from the Bento's own pinned
requirements, so a package missing from them fails here. Hostile and fuzzed requests (from the
service's own OpenAPI document) and concurrent load go to the same server.
"""

import json
import math
import re
import urllib.parse
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .conftest import bake, clean_env
from .servers import Server, free_port, http, post_concurrently, raw_http

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


def monitoring_records(directory: Path) -> list[dict]:
    files = sorted(directory.glob("predictions-*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


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
            "records": monitoring_records(work / "monitoring"),  # of these requests; later tests add more
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


def bad_requests(row: dict) -> dict[str, tuple[str, bytes]]:
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
        "bad rows in a batch": ("/predict_batch", json.dumps([row] + [{**row, first: None}] * 2).encode()),
        "JSON but not an object": ("/predict", b"[1, 2, 3]"),
    }


def test_every_bad_request_gets_a_400_naming_the_problem(served):
    row = served["expected"]["rows"][0]
    first = next(iter(row))
    for case, (path, raw) in bad_requests(row).items():
        status, body = http("POST", served["url"] + path, raw=raw)
        assert status == 400, (case, status, body)
        assert body["error"] and body["detail"][0]["msg"], case
        locations = [tuple(d["loc"]) for d in body["detail"]]
        if case in ("missing field", "wrong type", "out of range", "NaN", "inf"):
            assert locations == [(first,)], (case, body)
        if case == "extra field":
            assert locations == [("surprise",)]
        if case == "bad rows in a batch":
            assert locations == [("root", 1, first)]  # the first bad row's errors only


JSON = "application/json"


def hostile_requests(row: dict, max_batch: int) -> dict[str, tuple[int, str, str, bytes]]:
    """A client's mistakes and an attacker's bodies: (the 4xx expected, path, Content-Type, body)."""
    compact = json.dumps(row)
    nul = compact.replace('{"', '{"\x00', 1).encode()  # a raw NUL byte, which JSON does not allow
    many_fields = {**row, **{f"f{i}": 0 for i in range(1000)}}
    return {
        "not JSON": (400, "/predict", JSON, b"mean radius is 12"),
        "not JSON, batch": (400, "/predict_batch", JSON, b"mean radius is 12"),
        "100,000 nested [": (413, "/predict", JSON, b"[" * 100_000),  # more bytes than a row can have
        "100,000 nested [, batch": (400, "/predict_batch", JSON, b"[" * 100_000),
        "a NUL byte": (400, "/predict", JSON, nul),
        "a NUL byte, batch": (400, "/predict_batch", JSON, b"[" + nul + b"]"),
        "multipart without a boundary": (415, "/predict", "multipart/form-data", compact.encode()),
        "multipart without a boundary, batch": (415, "/predict_batch", "multipart/form-data", b"[]"),
        "plain text": (415, "/predict", "text/plain", compact.encode()),
        "a row over the batch limit": (
            400,
            "/predict_batch",
            JSON,
            json.dumps([row] * (max_batch + 1)).encode(),
        ),
        "20,000 empty rows": (400, "/predict_batch", JSON, json.dumps([{}] * 20_000).encode()),
        "a row of 1,000 fields": (400, "/predict_batch", JSON, json.dumps([many_fields]).encode()),
        "a 100,000-character field name": (
            400,
            "/predict_batch",
            JSON,
            json.dumps([{**row, "y" * 100_000: 1}]).encode(),
        ),
        "a 1 MB field name": (413, "/predict", JSON, json.dumps({**row, "x" * 1_000_000: 1}).encode()),
        "a 50 MB body": (413, "/predict_batch", JSON, b"[" + b" " * 50_000_000 + b"]"),
    }


def send(url: str, path: str, content_type: str, body: bytes):
    """POST with the body's length declared. Of a body over 256 kB only the first 64 kB is sent: the
    server must answer from Content-Length alone (and a client writing into a closed connection could
    not read the answer)."""
    head = f"POST {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}"
    return raw_http(url, head, body if len(body) <= 256_000 else body[:64_000])


def test_hostile_requests_get_a_4xx_with_one_sentence_and_one_log_line_each(served):
    row, url = served["expected"]["rows"][0], served["url"]
    answers = {
        case: (expected, *send(url, path, content_type, body))
        for case, (expected, path, content_type, body) in hostile_requests(
            row, served["expected"]["max_batch"]
        ).items()
    }
    # A chunked body has no Content-Length: it is refused while it is read, once over the limit.
    chunk = b" " * 10_000
    chunks = (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 40 + b"0\r\n\r\n"
    head = f"POST /predict_batch HTTP/1.1\r\nContent-Type: {JSON}\r\nTransfer-Encoding: chunked"
    answers["a chunked 400 kB body"] = (413, *raw_http(url, head, chunks))
    for case, (expected, status, body) in answers.items():
        assert status == expected, (case, status, body)
        assert re.fullmatch(r"[^\n]{10,300}", body["error"]), (case, body)
    # Each refusal (and each 400 of the tests before) is one WARNING line, with long input cut short.
    log = served["server"].log.read_text()
    refusals = [line for line in log.splitlines() if re.search(r"\] POST /predict\S* answered 4\d\d: ", line)]
    assert len(refusals) >= len(answers)
    assert all("[WARNING]" in line and len(line) < 600 for line in refusals)
    assert "Traceback" not in log and "x" * 300 not in log and "y" * 300 not in log


def test_fuzzed_requests_from_the_openapi_document_get_no_server_error(served):
    """Requests generated from the service's own /docs.json, valid and invalid, to each operation in
    turn: none gets a 5xx. Driven through Hypothesis here: schemathesis 4.32's pytest loader
    (`schemathesis.pytest.from_fixture`) fails under pytest 9.2, and the schema needs the server."""
    schema = schemathesis.openapi.from_url(served["url"] + "/docs.json")
    for operation in (result.ok() for result in schema.get_all_operations()):
        # An operation without input (the probes) has no invalid requests to generate.
        for mode in GenerationMode if operation.body else [GenerationMode.POSITIVE]:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def call(case):
                case.call_and_validate(checks=[not_a_server_error])

            call()


def test_concurrent_requests_are_answered_and_each_predicted_row_is_logged_once(served):
    """32 clients at once, single rows, batches and bad batches mixed: every good request is
    answered 200, every bad one 400, and the monitoring log gains one record per predicted row."""
    rows = served["expected"]["rows"]
    jobs, predicted = [], []
    for i in range(640):
        if i % 10 == 9:  # a bad batch: its second row has no fields
            jobs.append(("/predict_batch", json.dumps([rows[0], {}]).encode()))
        elif i % 2:
            jobs.append(("/predict", json.dumps(rows[i % len(rows)]).encode()))
            predicted.append(rows[i % len(rows)])
        else:
            batch = [rows[(i + k) % len(rows)] for k in range(1 + i % 7)]
            jobs.append(("/predict_batch", json.dumps(batch).encode()))
            predicted += batch
    before = len(monitoring_records(served["monitoring"]))
    results = post_concurrently(urllib.parse.urlsplit(served["url"]).port, jobs, concurrency=32)
    statuses = {number: status for number, status, _ in results}
    assert statuses == {i: 400 if i % 10 == 9 else 200 for i in range(len(jobs))}
    logged = [r["features"] for r in monitoring_records(served["monitoring"])[before:]]
    assert sorted(json.dumps(r, sort_keys=True) for r in logged) == sorted(
        json.dumps(r, sort_keys=True) for r in predicted
    )


def test_the_monitoring_log_has_one_record_per_predicted_row(served):
    records = served["records"]
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
