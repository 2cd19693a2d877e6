"""The Bento of a generated project, built by its `bento` command and served as its Deployment runs it.

The Bento is served as its image would serve it: from the exported Docker build context (the
Bento with its model, no model store), in a fresh environment made from the Bento's own pinned
requirements and the Python of the Dockerfile's base image, so a package missing from them fails
here. It is started as the project's production Deployment (`kubectl kustomize
deploy/overlays/production`) says: the image's entrypoint with the container's arguments, the
Dockerfile's ENV under the container's env, each path in them moved under the test's directory (a
volume's mountPath to `volumes/<mountPath>`, the Bento's path to the build context, any other path
to `rootfs/<path>`, the image's read-only root filesystem), and a free port in place of the
container port. The contract between the two: the container port is the port the Dockerfile
EXPOSEs for the server, runAsUser and runAsGroup are the uid and gid the Dockerfile gives its user,
the startup, liveness and readiness probes and the Prometheus annotations' path answer on that port,
and MONITORING_DIR lies on the persistent volume, where the predictions get logged. Hostile and
fuzzed requests (from the service's own OpenAPI document) and concurrent load go to the same server.
"""

import json
import math
import re
import shlex
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .act_runner import find_tool
from .conftest import bake
from .servers import (
    S3_CREDENTIALS,
    Server,
    free_port,
    http,
    post_concurrently,
    raw_http,
    s3_bucket,
    s3_keys,
    s3_read,
    s3_server,
)

pytestmark = pytest.mark.slow

SINGLE_ROWS = 20
OVERLAY = "deploy/overlays/production"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
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
# The samples of a Prometheus text exposition, parsed by the Bento's own prometheus_client.
PARSE_METRICS = """
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = text_string_to_metric_families(sys.stdin.read())
print(json.dumps([[s.name, s.labels, s.value] for f in families for s in f.samples]))
"""


def monitoring_records(directory: Path) -> list[dict]:
    files = sorted(directory.glob("predictions-*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def built_deployment(project) -> dict:
    """The Deployment of `kubectl kustomize` of the production overlay."""
    built = project.run(find_tool("kubectl"), "kustomize", OVERLAY).stdout
    (deployment,) = [d for d in yaml.safe_load_all(built) if d and d["kind"] == "Deployment"]
    return deployment


def dockerfile_instructions(text: str) -> list[tuple[str, str, str]]:
    """(the comment lines just above it, INSTRUCTION, arguments) of each instruction of a Dockerfile,
    its continuation lines joined."""
    instructions, comments, logical = [], [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if not logical:
                comments.append(stripped.lstrip("#").strip())
        elif not stripped:
            comments = comments if logical else []
        elif stripped.endswith("\\"):
            logical += stripped[:-1] + " "
        else:
            keyword, _, arguments = (logical + stripped).partition(" ")
            instructions.append((" ".join(comments), keyword.upper(), arguments.strip()))
            comments, logical = [], ""
    return instructions


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], m[0]), text)


def image_of(dockerfile: Path) -> dict:
    """What the exported Dockerfile says of the image: its Python, the ports it EXPOSEs (by their
    comments), its ENV, and the user it runs as with that user's uid and gid, as its RUNs create them."""
    variables: dict[str, str] = {}
    image = {"exposed": {}, "env": {}, "users": {}, "groups": {}}
    for comment, keyword, arguments in dockerfile_instructions(dockerfile.read_text()):
        arguments = expand(arguments, variables)
        if keyword == "FROM":
            image["python"] = re.fullmatch(r"python:(\d+\.\d+)\S*(?: AS \S+)?", arguments, re.I)[1]
        elif keyword == "ARG":
            name, _, default = arguments.partition("=")
            variables.setdefault(name, default)
        elif keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                variables[name] = image["env"][name] = value
        elif keyword == "EXPOSE":
            image["exposed"][comment] = int(arguments.split("/")[0])
        elif keyword == "USER":
            image["user"] = arguments.split(":")[0]
        elif keyword == "RUN":
            words = list(shlex.shlex(arguments, posix=True, punctuation_chars=True))
            command: list[str] = []
            for word in [*words, ";"]:
                if word not in (";", "&&", "||", "|", "if", "then", "else", "fi"):
                    command.append(word)
                    continue
                if command and command[0] in ("useradd", "adduser", "groupadd", "addgroup"):
                    options, names, rest = {}, [], iter(command[1:])
                    for part in rest:
                        if part in ("-u", "-g", "-G"):
                            options[part] = next(rest)
                        elif not part.startswith("-"):
                            names.append(part)
                    if command[0] in ("groupadd", "addgroup"):
                        image["groups"].setdefault(names[-1], set()).add(int(options["-g"]))
                    else:
                        group = options.get("-g") or options.get("-G") or names[-1]
                        image["users"].setdefault(names[-1], set()).add((int(options["-u"]), group))
                command = []
    return image


def uid_and_gid(image: dict) -> tuple[int, int]:
    """The uid and gid the image runs as: one pair, whichever branch of its RUNs made the user."""
    user = image["user"]
    if user.isdigit():
        return int(user), int(user)
    pairs = {
        (uid, int(group) if group.isdigit() else gid)
        for uid, group in image["users"][user]
        for gid in (image["groups"].get(group) or {None})
    }
    assert len(pairs) == 1, (user, image["users"], image["groups"])
    return pairs.pop()


def remap(value: str, mounts: list[str], bento_path: str, work: Path, context: Path) -> str:
    """A path of the container as the test has it: under a volume's mountPath in `volumes/`, under the
    Bento's path in the build context, anywhere else in `rootfs/`. Other values are left as they are."""
    if not value.startswith("/"):
        return value
    path = PurePosixPath(value)
    if any(path.is_relative_to(mount) for mount in mounts):
        return str(work / "volumes" / path.relative_to("/"))
    if path.is_relative_to(bento_path):
        return str(context / path.relative_to(bento_path))
    return str(work / "rootfs" / path.relative_to("/"))


def scrape(url: str) -> tuple[int, str, str]:
    """(status, Content-Type, body) of a GET, as Prometheus scrapes."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def files_under(directory: Path) -> set[str]:
    """Files and directories under `directory`, without Python's bytecode caches (which Python only
    writes where it can)."""
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if "__pycache__" not in p.parts}


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
    deployment = built_deployment(project)
    pod = deployment["spec"]["template"]
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "service"]
    image = image_of(context / "env/docker/Dockerfile")
    venv = work / "bento-env"
    project.run("uv", "venv", "--quiet", "--python", image["python"], str(venv))
    requirements = context / "env/python/requirements.txt"
    project.run(
        "uv", "pip", "install", "--quiet", "--python", str(venv / "bin/python"), "-r", str(requirements)
    )

    # The container's file system: its volumes empty, its root file system the image's (its user's
    # home; the Bento is the build context).
    mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]

    def remapped(value: str) -> str:
        return remap(value, mounts, image["env"]["BENTO_PATH"], work, context)

    for mount in mounts:
        Path(remapped(mount)).mkdir(parents=True)
    user_home = remapped(f"/home/{image['user']}")
    Path(user_home).mkdir(parents=True)
    rootfs_before, bento_before = files_under(work / "rootfs"), files_under(context)
    assert all("value" in e for e in container.get("env", [])), "only literal env values can be replayed"
    container_env = {e["name"]: remapped(e["value"]) for e in container.get("env", [])}
    port = free_port()
    env = {
        **{name: remapped(value) for name, value in image["env"].items()},
        "HOME": user_home,
        "VIRTUAL_ENV": str(venv),  # the image's venv
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        **({"TMPDIR": remapped("/tmp")} if "/tmp" in mounts else {}),
        **container_env,
        "BENTOML_HOST": "127.0.0.1",  # `bentoml serve`'s --host and --port
        "BENTOML_PORT": str(port),
    }
    # No `command`: the image's ENTRYPOINT runs, with the container's `args`.
    entrypoint = [str(context / "env/docker/entrypoint.sh"), *container.get("args", [])]
    probes = {name: container[name] for name in PROBES}
    url = f"http://127.0.0.1:{port}"
    server = Server(
        ["bash", *entrypoint],
        cwd=context,  # the image's WORKDIR
        env=env,
        log=work / "bentoml-serve.log",
        ready_url=url + probes["startupProbe"]["httpGet"]["path"],
    )
    try:
        # The kubelet restarts a container whose startup probe has not passed in this time.
        startup = probes["startupProbe"]
        server.wait(
            timeout=startup.get("initialDelaySeconds", 0)
            + startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        )
        server.ready_url = url + probes["readinessProbe"]["httpGet"]["path"]
        server.wait()
        monitoring = Path(container_env["MONITORING_DIR"])
        singles = [http("POST", f"{url}/predict", row) for row in expected["rows"][:SINGLE_ROWS]]
        size = expected["max_batch"]
        batches = [
            http("POST", f"{url}/predict_batch", expected["rows"][i : i + size])
            for i in range(0, len(expected["rows"]), size)
        ]
        metrics_path = pod["metadata"]["annotations"]["prometheus.io/path"]
        yield {
            "records": monitoring_records(monitoring),  # of these requests; later tests add more
            "metrics": scrape(url + metrics_path),  # after these requests
            "url": url,
            "built": built,
            "bento": context,
            "project": project,
            "expected": expected,
            "singles": singles,
            "batches": batches,
            "monitoring": monitoring,
            "server": server,
            "env": env,
            "entrypoint": entrypoint,
            "venv": venv,
            "work": work,
            "deployment": deployment,
            "container": container,
            "image": image,
            "probes": probes,
            "rootfs_before": rootfs_before,
            "bento_before": bento_before,
        }
    finally:
        server.stop()


@pytest.fixture(scope="module")
def logged_to_s3(served):
    """The same Bento, its MONITORING_DIR an S3 prefix on a loopback S3-compatible server: predictions
    sent, then the server stopped as a rollout stops a pod (SIGTERM)."""
    work = served["work"] / "s3"
    work.mkdir()
    store, endpoint = s3_server(work)
    try:
        s3_bucket(endpoint, "monitoring")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # The cloud's credentials as a pod gets them (environment); the endpoint as for MinIO and the like.
        env = {**served["env"], **S3_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "BENTOML_PORT": str(port)}
        env["MONITORING_DIR"] = "s3://monitoring/predictions"
        server = Server(
            ["bash", *served["entrypoint"]],
            cwd=served["bento"],
            env=env,
            log=work / "bentoml-serve.log",
            ready_url=url + served["probes"]["readinessProbe"]["httpGet"]["path"],
        )
        try:
            server.wait()
            rows = served["expected"]["rows"]
            answers = [http("POST", f"{url}/predict", row)[0] for row in rows[:5]]
            answers.append(http("POST", f"{url}/predict_batch", rows[5:40])[0])
        finally:
            server.stop()
        yield {
            "endpoint": endpoint,
            "answers": answers,
            "rows": rows[:40],
            "log": server.tail(200),
            "work": work,
        }
    finally:
        store.stop()


def test_predictions_logged_to_an_object_store_are_written_by_the_time_the_pod_stops(served, logged_to_s3):
    assert logged_to_s3["answers"] == [200] * 6
    endpoint = logged_to_s3["endpoint"]
    keys = s3_keys(endpoint, "monitoring")
    assert keys and all(
        re.fullmatch(r"predictions/predictions-\d{4}-\d\d-\d\d-\d{6}-\w+-\w+\.jsonl", k) for k in keys
    )
    records = [json.loads(line) for key in keys for line in s3_read(endpoint, "monitoring", key).splitlines()]
    assert sorted(json.dumps(r["features"], sort_keys=True) for r in records) == sorted(
        json.dumps(row, sort_keys=True) for row in logged_to_s3["rows"]
    )
    assert "Traceback" not in logged_to_s3["log"]


def test_the_drift_check_reads_its_window_from_the_object_store(served, logged_to_s3):
    project, endpoint = served["project"], logged_to_s3["endpoint"]
    env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    out = logged_to_s3["work"] / "drift"
    drift = project.run(
        "uv",
        "run",
        project.package,
        "drift",
        "--current",
        "s3://monitoring/predictions",
        "--out-dir",
        str(out),
        check=False,
        **env,
    )
    assert drift.returncode in (0, 1), drift.stdout + drift.stderr
    report = json.loads((out / "drift.json").read_text())
    assert report["current"]["rows"] == len(logged_to_s3["rows"])
    assert all(f.startswith("s3://monitoring/predictions/predictions-") for f in report["current"]["files"])
    fetched = project.run(
        "uv", "run", project.package, "drift-data", "--current", "s3://monitoring/predictions", **env
    )
    assert "current data: data/current-log" in fetched.stdout
    copied = sorted(p.name for p in (project.path / "data/current-log").iterdir())
    assert copied == sorted(k.rsplit("/", 1)[-1] for k in s3_keys(endpoint, "monitoring"))
    missing = project.run(
        "uv",
        "run",
        project.package,
        "drift-data",
        "--current",
        "s3://no-such-bucket/predictions",
        check=False,
        **env,
    )
    assert missing.returncode == 2 and "could not be read" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr


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


def test_the_deployment_runs_the_image_as_the_dockerfile_builds_it(served):
    """The container port is the one the Dockerfile EXPOSEs for the server (BentoML's template also
    EXPOSEs a Prometheus port, which only its gRPC server uses), the probes and the Prometheus
    annotations name it, and the pod runs as the uid and gid the Dockerfile gives its user."""
    container, image = served["container"], served["image"]
    template = served["deployment"]["spec"]["template"]
    (server_port,) = [port for comment, port in image["exposed"].items() if "BentoServer" in comment]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": server_port}, image["exposed"]
    for name, probe in served["probes"].items():
        assert ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == server_port, name
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == server_port
    security = {**template["spec"].get("securityContext", {}), **container.get("securityContext", {})}
    assert (security["runAsUser"], security["runAsGroup"]) == uid_and_gid(image) != (0, 0)
    assert "command" not in container  # the image's entrypoint serves the Bento


def test_the_probes_answer_on_the_container_port(served):
    """Each probe's path answers 200 (the startup probe's, within the time the startup probe allows)."""
    for name, probe in served["probes"].items():
        assert http("GET", served["url"] + probe["httpGet"]["path"])[0] == 200, name


def test_the_prometheus_path_answers_parsable_metrics_of_the_requests(served):
    """The annotations' metrics path answers the Prometheus text format, which the Bento's own
    prometheus_client parses, with the requests of the fixture counted by endpoint and status."""
    status, content_type, text = served["metrics"]
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    requirements = (served["bento"] / "env/python/requirements.txt").read_text()
    assert re.search(r"^prometheus-client==", requirements, re.MULTILINE)
    parsed = subprocess.run(
        [str(served["venv"] / "bin/python"), "-c", PARSE_METRICS],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert parsed.returncode == 0, parsed.stderr
    requests = {
        (labels["endpoint"], labels["http_response_code"]): value
        for name, labels, value in json.loads(parsed.stdout)
        if name == "bentoml_service_request_total"
    }
    assert requests[("/predict", "200")] == SINGLE_ROWS, requests
    assert requests[("/predict_batch", "200")] == len(served["batches"]), requests


def test_predictions_are_logged_on_the_persistent_volume(served):
    """MONITORING_DIR lies under the mount of the volume backed by a PersistentVolumeClaim: the
    prediction log outlives the pod. The server logged into its stand-in (see the monitoring tests)."""
    template = served["deployment"]["spec"]["template"]
    claimed = {v["name"] for v in template["spec"]["volumes"] if "persistentVolumeClaim" in v}
    (mount,) = [m["mountPath"] for m in served["container"]["volumeMounts"] if m["name"] in claimed]
    (directory,) = [e["value"] for e in served["container"]["env"] if e["name"] == "MONITORING_DIR"]
    assert PurePosixPath(directory).is_relative_to(mount), (directory, mount)
    assert served["monitoring"] == served["work"] / "volumes" / PurePosixPath(directory).relative_to("/")
    assert served["records"]


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


def test_the_server_writes_nothing_into_the_bento(served):
    """The Bento lies on the image's root file system, which the container mounts read-only."""
    assert files_under(served["bento"]) == served["bento_before"]


def test_the_server_writes_only_to_its_volumes(served):
    """Last, after all the other requests: nothing written outside the container's volumes, if the
    container's root file system is read-only (BENTOML_HOME is on the /tmp volume)."""
    assert served["container"]["securityContext"]["readOnlyRootFilesystem"] is True
    written = sorted(files_under(served["work"] / "rootfs") - served["rootfs_before"])
    assert not written, (
        f"written on the read-only root file system (under {served['work'] / 'rootfs'}): {written}"
    )
