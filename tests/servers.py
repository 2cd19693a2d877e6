"""Real servers on loopback for the tests: started on a free port, waited for, stopped by PID."""

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from http.client import HTTPResponse
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parsed(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def http(
    method: str,
    url: str,
    body=None,
    *,
    raw: bytes | None = None,
    timeout: float = 30,
    auth: tuple[str, str] | None = None,
):
    """(status, parsed JSON or text) of one request, with basic `auth` if given; 4xx/5xx are answers,
    not exceptions."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    return status, _parsed(text)


def raw_http(url: str, head: str, body: bytes, *, timeout: float = 30):
    """(status, parsed JSON or text) of a request sent byte for byte: `head` is its request line and
    headers, without the blank line. For what urllib will not send: a body shorter than its
    Content-Length, or one in chunks."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(f"{head}\r\nHost: {parts.netloc}\r\n\r\n".encode() + body)
        response = HTTPResponse(sock)
        response.begin()
        return response.status, _parsed(response.read().decode())


async def _read_status(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response; its body is read and dropped."""
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value:
            chunked = True
    if chunked:
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status


def post_concurrently(port: int, jobs: Iterable[tuple[str, bytes]], concurrency: int) -> list[tuple]:
    """POST each (path, JSON body) of `jobs` over `concurrency` keep-alive connections, each sending its
    next job when its last is answered (a closed loop). Returns (job number, status, seconds) per job,
    in the order they were answered."""
    numbered = enumerate(jobs)  # shared by the connections: each takes the next job when it is free
    results: list[tuple] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for number, (path, body) in numbered:
                start = time.perf_counter()
                head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                status = await _read_status(reader)
                results.append((number, status, time.perf_counter() - start))
        finally:
            writer.close()

    async def run() -> None:
        await asyncio.gather(*(connection() for _ in range(concurrency)))

    asyncio.run(run())
    return results


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


def mlflow_command(project_path: Path, options: list[str], port: int) -> list[str]:
    """`mlflow server` of the project's environment with `options`, on loopback with one worker
    (later options win over earlier ones)."""
    loopback = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return [str(project_path / ".venv/bin/mlflow"), "server", *options, *loopback]


def mlflow_server(project_path: Path, work: Path, env: dict[str, str]) -> tuple[Server, str]:
    """`mlflow server` of the project's environment with a SQLite backend; returns it and its URI."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    store = [
        "--backend-store-uri",
        f"sqlite:///{work / 'server.db'}",
        "--artifacts-destination",
        str(work / "artifacts"),
    ]
    command = mlflow_command(project_path, store, port)
    # Its background job workers serve GenAI features, not the registry: five fewer processes.
    env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = Server(command, cwd=work, env=env, log=work / "mlflow-server.log", ready_url=f"{uri}/health")
    return server.wait(), uri


def s3_server(work: Path) -> tuple[Server, str]:
    """An S3-compatible server on loopback (moto's server mode, as DVC's and MLflow's own tests use);
    returns it and its endpoint URL. It keeps its buckets in memory: one per test module."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)]
    server = Server(
        command, cwd=work, env=dict(os.environ), log=work / "s3-server.log", ready_url=f"{endpoint}/"
    )
    return server.wait(), endpoint


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def s3_bucket(endpoint: str, name: str) -> None:
    """Creates bucket `name` on the S3 server at `endpoint`."""
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=name)


def s3_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """The keys under `prefix` in `bucket`, sorted."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def s3_read(endpoint: str, bucket: str, key: str) -> bytes:
    """The content of object `key` in `bucket`."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


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


def registry_state(project, name: str, uri: str, **credentials: str) -> dict:
    """Aliases, versions with their tags, and the number of runs of `name` on the MLflow server at `uri`."""
    script = REGISTRY_STATE.format(name=name)
    env = {"MLFLOW_TRACKING_URI": uri, **credentials}
    return json.loads(project.run("uv", "run", "python", "-c", script, **env).stdout)
