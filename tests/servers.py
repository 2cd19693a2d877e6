"""Real servers on loopback for the tests: started on a free port, waited for, stopped by PID."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, *, raw: bytes | None = None, timeout: float = 30):
    """(status, parsed JSON or text) of one request; 4xx/5xx are answers, not exceptions."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    """A server process in its own session, so that stopping it stops the workers it forked."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], log: Path, ready_url: str):
        self.command, self.ready_url, self.log = command, ready_url, log
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, timeout: float = 180) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.command[0]} exited {self.process.returncode}:\n{self.tail()}")
            try:
                if http("GET", self.ready_url, timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"{self.ready_url} not ready after {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group led by our own child's PID
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def mlflow_server(project_path: Path, work: Path, env: dict[str, str]) -> tuple[Server, str]:
    """`mlflow server` of the project's environment with a SQLite backend; returns it and its URI."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [
        str(project_path / ".venv/bin/mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{work / 'server.db'}",
        "--artifacts-destination",
        str(work / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # Its background job workers serve GenAI features, not the registry: five fewer processes.
    env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = Server(command, cwd=work, env=env, log=work / "mlflow-server.log", ready_url=f"{uri}/health")
    return server.wait(), uri


REGISTRY_STATE = """
import json, mlflow
client = mlflow.MlflowClient()
name = {name!r}
versions = client.search_model_versions(f"name = '{{name}}'")
print(json.dumps({{
    "aliases": {{a: str(v) for a, v in client.get_registered_model(name).aliases.items()}},
    "versions": sorted(str(v.version) for v in versions),
    "tags": {{str(v.version): v.tags for v in versions}},
    "runs": len(mlflow.search_runs(search_all_experiments=True, output_format="list")),
}}))
"""


def registry_state(project, name: str, uri: str) -> dict:
    """Aliases, versions with their tags, and the number of runs of `name` on the MLflow server at `uri`."""
    script = REGISTRY_STATE.format(name=name)
    return json.loads(project.run("uv", "run", "python", "-c", script, MLFLOW_TRACKING_URI=uri).stdout)
