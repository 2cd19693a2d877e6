"""Registry commands of a generated project against an MLflow server that dies, and against each other.

Run by tests/test_registry_server.py with the project's own Python, in the project's directory
(imports dominate a command's time, so every case runs in this one process):

    python registry_faults.py PACKAGE SERVER_URI faults|race OUT.json

faults: for every N, a fresh registered model gets a champion (model A), then `release` of a
better model B (its run already logged, as `evaluate` does in main.yml) runs through a proxy
that forwards N requests and then cuts the connection (the N-th request reaches the server, its
answer is lost, every later one is refused: the server died). The registry's state at the cut is
recorded; the first time a cut leaves a state, `release` runs again against the healthy server
and the final state is recorded too, beside the state an uninterrupted `release` reached.

race: several `release` processes of models of different quality start together against one
registered model, twice over; OUT holds each version's metric and tags and the final aliases.
"""

import contextlib
import http.client
import importlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(Path(__file__).parent))  # run by the project's Python, outside the test package
from registry_compare import comparable  # noqa: E402

PACKAGE, SERVER, MODE, OUT = sys.argv[1:5]
cli = importlib.import_module(f"{PACKAGE}.cli")
params_module = importlib.import_module(f"{PACKAGE}.params")
train_module = importlib.import_module(f"{PACKAGE}.train")
split_module = importlib.import_module(f"{PACKAGE}.split")

MODELS = {  # hyperparameters of a random forest, worst to best on any data the schema admits
    "A": {"n_estimators": 2, "max_depth": 1},
    "B": {"n_estimators": 60, "max_depth": 8},
    "C": {"n_estimators": 5, "max_depth": 2},
    "D": {"n_estimators": 20, "max_depth": 4},
}


class CuttingProxy(ThreadingHTTPServer):
    """HTTP on loopback in front of the server; `cut_after(n)` makes it die after the n-th request."""

    daemon_threads = True

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.count, self.limit, self.lock = 0, None, threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def cut_after(self, limit: int | None) -> None:
        with self.lock:
            self.count, self.limit = 0, limit

    def ticket(self) -> int:
        with self.lock:
            self.count += 1
            return self.count


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cut(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self):
        proxy = self.server
        number, body = proxy.ticket(), self._body()
        if proxy.limit is not None and number > proxy.limit:
            return self._cut()  # the server is dead
        upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")
        }
        headers["Content-Length"] = str(len(body))
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        if proxy.limit is not None and number == proxy.limit:
            return self._cut()  # it reached the server; the answer is lost
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def write_params(name: str, lock_seconds: float) -> dict:
    """params.yaml naming `name` as the registered model; runs go to one experiment, `faults`."""
    params = params_module.load_params()
    params["mlflow"] = {**params["mlflow"], "experiment": "faults", "registered_model": name}
    params["promotion"] = {**params["promotion"], "lock_seconds": lock_seconds}
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def train_models(models: dict) -> dict[str, bytes]:
    """Each model trained on the project's split, as bytes to put at models/model.joblib."""
    params, schema = params_module.load_params(), params_module.load_schema()
    trained = {}
    for label, hyperparameters in models.items():
        config = {
            **params,
            "train": {"model": "random_forest", "seed": 0, "hyperparameters": hyperparameters},
        }
        path = Path(f"models/{label}.joblib")
        train_module.train(config, schema, split_module.TRAIN_PATH, path)
        trained[label] = path.read_bytes()
        path.unlink()
    return trained


def release(model: bytes, uri: str) -> dict:
    """`release` in this process, as main.yml runs it; its exit status and its last error line."""
    Path("models/model.joblib").write_bytes(model)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    err, started = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main(["release"])
        except Exception as exc:  # a traceback: what a user must never get
            status = f"{type(exc).__name__}: {exc}"
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    return {"status": status, "error": "\n".join(errors), "seconds": time.monotonic() - started}


def mlflow_client():
    import mlflow

    return mlflow.MlflowClient(tracking_uri=SERVER)


def crown(name: str, champion) -> None:
    """The champion a release of model A leaves, copied from another registered model: it costs seconds."""
    client = mlflow_client()
    client.create_registered_model(name)
    client.create_model_version(
        name,
        champion.source,
        champion.run_id,
        tags=champion.tags,
        model_id=champion.source.removeprefix("models:/"),
    )
    client.set_registered_model_alias(name, "champion", "1")


LOADABLE: dict[str, bool] = {}


def state(name: str) -> dict:
    """The registry as a user would audit it: versions, their tags and loadability, aliases, runs, lock."""
    import mlflow

    client = mlflow_client()
    model = client.get_registered_model(name)
    versions = {}
    for v in client.search_model_versions(f"name = '{name}'"):
        if v.source not in LOADABLE:  # a model logged once is loaded once
            try:
                mlflow.sklearn.load_model(client.get_model_version_download_uri(name, v.version))
                LOADABLE[v.source] = True
            except Exception:
                LOADABLE[v.source] = False
        run = client.get_run(v.run_id)
        versions[str(v.version)] = {
            "tags": v.tags,
            "loadable": LOADABLE[v.source],
            "run_status": run.info.status,
        }
    locks = [m.name for m in client.search_registered_models(f"name = '{name}.lock'")]
    return {
        "aliases": {alias: str(v) for alias, v in model.aliases.items()},
        "model_tags": model.tags,
        "versions": versions,
        "lock": bool(locks),
    }


def faults() -> dict:
    """As main.yml runs it: `evaluate` logged the model's run, `release` registers and gates it."""
    # Fail fast inside a case: the cut is certain, MLflow's retries only slow the loop down.
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0")
    models = train_models({"A": MODELS["A"], "B": MODELS["B"]})
    write_params("warm-up", lock_seconds=1)
    for label in ("A", "B"):  # logs both models' runs, as `evaluate` would have
        assert release(models[label], SERVER)["status"] == 0
    champion = mlflow_client().get_model_version("warm-up", "1")
    proxy = CuttingProxy(SERVER)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()

    # What a run again does depends only on what the server holds at the cut: each state a cut
    # leaves is run again once. Reads change nothing, so most cuts leave a state seen before.
    seen = set()

    def case(name: str, cut: int | None) -> dict:
        write_params(name, lock_seconds=1)
        crown(name, champion)
        proxy.cut_after(cut)
        cut_run = release(models["B"], proxy.url)
        requests = proxy.count
        proxy.cut_after(None)
        outcome = {"cut": cut_run, "requests": requests, "at_cut": state(name)}
        key = json.dumps(comparable(outcome["at_cut"]), sort_keys=True)
        if cut is not None and key not in seen:
            seen.add(key)
            outcome |= {"again": release(models["B"], proxy.url), "state": state(name)}
        return outcome

    reference = case("uninterrupted", None)
    result = {"reference": reference, "cases": {}}
    for n in range(1, reference["requests"] + 1):
        result["cases"][n] = case(f"cut-{n}", n)
        Path(OUT).write_text(json.dumps(result))  # so far: a stopped run still shows its cases
    return result


def race() -> dict:
    """Releases of models A-D started together in separate processes, each in its own directory."""
    models = train_models(MODELS)
    rounds = []
    for round_number in range(2):
        name = f"race-{round_number}"
        write_params(name, lock_seconds=30)
        processes = []
        for label, model in models.items():
            work = Path(f"race/{name}/{label}").resolve()
            (work / "models").mkdir(parents=True, exist_ok=True)
            for path in ("params.yaml", "schema.yaml", split_module.TRAIN_PATH, split_module.TEST_PATH):
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_bytes(Path(path).read_bytes())
            (work / "models/model.joblib").write_bytes(model)
            env = {**os.environ, "MLFLOW_TRACKING_URI": SERVER}
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", f"{PACKAGE}.cli", "release"],
                    cwd=work,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
            )
        outcomes = [p.communicate(timeout=600) + (p.returncode,) for p in processes]
        rounds.append(
            {
                "state": state(name),
                "exits": [o[2] for o in outcomes],
                "stderr": [o[1][-500:] for o in outcomes],
            }
        )
    return {"rounds": rounds, "metric": params_module.load_params()["evaluate"]["primary_metric"]}


Path(OUT).write_text(json.dumps(faults() if MODE == "faults" else race()))
