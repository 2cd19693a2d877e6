"""Shared fixtures: each test runs in a scratch copy of the project's configuration."""

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

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


# GitHub, as a workflow step sees it: issues, labels and pull requests of one repository.


class API:
    """Issues, labels and pull requests of one repository; `fail` maps (method, path) to a status."""

    repo, token = "acme/demo", "ghs_test"  # what the fixture sets $GITHUB_REPOSITORY and $GITHUB_TOKEN to

    def __init__(self):
        self.requests, self.issues, self.comments, self.labels = [], {}, [], {}
        self.fail: dict[tuple[str, str], tuple[int, dict]] = {}
        self.drop_labels = False  # GitHub drops the labels of a token that may not set them

    def answer(self, method: str, path: str, query: dict, body):
        if (method, path) in self.fail:
            return self.fail[(method, path)]
        rest = path.removeprefix(f"/repos/{self.repo}")
        if method == "GET" and rest.startswith("/labels/"):
            label = self.labels.get(rest.removeprefix("/labels/"))
            return (200, label) if label else (404, {"message": "Not Found"})
        if (method, rest) == ("POST", "/labels"):
            self.labels[body["name"]] = body
            return 201, body
        if (method, rest) == ("GET", "/issues"):
            wanted = query.get("labels", [""])[0]
            found = [i for i in self.issues.values() if i["state"] == query.get("state", ["open"])[0]]
            return 200, page([i for i in found if wanted in {lb["name"] for lb in i["labels"]}], query)
        if (method, rest) == ("POST", "/issues"):
            labels = [] if self.drop_labels else body.get("labels", [])
            return 201, self.add(title=body["title"], body=body["body"], labels=labels)
        if method == "POST" and rest.endswith("/comments"):
            number = int(rest.split("/")[2])
            self.comments.append({"issue": number, "body": body["body"]})
            url = f"https://github.com/{self.repo}/issues/{number}"
            return 201, {"id": len(self.comments), "html_url": url}
        if (method, rest) == ("GET", "/pulls"):
            head = query["head"][0].partition(":")[2]
            return 200, page([i for i in self.issues.values() if i.get("head", {}).get("ref") == head], query)
        if (method, rest) == ("POST", "/pulls"):
            head, base = {"ref": body["head"]}, {"ref": body["base"]}
            pull = self.add(title=body["title"], body=body["body"], head=head, base=base, pull_request={})
            return 201, pull
        if method == "PATCH" and rest.startswith("/pulls/"):
            pull = self.issues[int(rest.split("/")[2])]
            pull.update(body)
            return 200, pull
        return 404, {"message": "Not Found"}

    def add(self, labels=(), **fields) -> dict:
        number = len(self.issues) + 1
        item = {"number": number, "state": "open", "labels": [{"name": n} for n in labels], **fields}
        item["html_url"] = f"https://github.com/{self.repo}/issues/{number}"
        self.issues[number] = item
        return item

    def calls(self) -> list[tuple[str, str]]:
        return [(method, path.removeprefix(f"/repos/{self.repo}")) for method, path, *_ in self.requests]


def page(items: list, query: dict) -> list:
    size, number = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
    return items[(number - 1) * size : number * size]


@pytest.fixture
def api(monkeypatch):
    """A GitHub REST API on loopback (see API), and the variables of a workflow step pointing at it."""
    state = API()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def handle_one(self):
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            query = parse_qs(parts.query)
            state.requests.append((self.command, parts.path, query, dict(self.headers), body))
            status, payload = state.answer(self.command, parts.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for name, value in {
        "GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "GITHUB_REPOSITORY": state.repo,
        "GITHUB_TOKEN": state.token,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "77",
    }.items():
        monkeypatch.setenv(name, value)
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def actions(tmp_path, monkeypatch):
    """$GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY of a step; read back as (outputs, summary)."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    def read():
        lines = output.read_text().splitlines() if output.exists() else []
        return dict(line.split("=", 1) for line in lines), summary.read_text() if summary.exists() else ""

    return read
