"""Serving figures: the built Bento against `mlflow models serve` of the same model version.

    uv run python benchmarks/serving_benchmark.py [--project DIR] [--seconds 10]

Generates a project (or reuses --project), releases two models as main.yml does, timing
`release` (register + promote) of the second, once against the embedded SQLite file and once against a
real `mlflow server`; builds the Bento of the server's @champion, then sends single-row
requests at concurrency 1 and 32 to both servers, one after the other on this machine, from
`wrk` when it is installed (Debian's package), else from a Python asyncio client; then single rows
to the Bento again while 4 clients send it the largest batches it takes. Also the in-process predict
time of the same model.
Prints figures and the targets beside them; it asserts nothing.
"""

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import bake, clean_env
from tests.servers import Server, free_port, mlflow_server, post_concurrently

WRK = shutil.which("wrk")  # the load generator when installed; else the Python client below

IN_PROCESS = """
import json, time, statistics, mlflow.sklearn, pandas as pd
from {pkg}.params import load_params, load_schema
from {pkg}.features import split_xy
from {pkg}.tracking import connect
params = load_params()
connect(params)
model = mlflow.sklearn.load_model(f"models:/{{params['mlflow']['registered_model']}}@champion")
x, _ = split_xy(pd.read_csv("data/processed/test.csv"), load_schema())
out = {{"rows": x.to_dict(orient="records")}}
for n in (1, 32):
    frame = x.head(n)
    for name, call in (("predict", model.predict), ("predict_proba", model.predict_proba)):
        call(frame)
        times = []
        for _ in range(200):
            start = time.perf_counter(); call(frame); times.append(time.perf_counter() - start)
        out[f"{{name}}_{{n}}"] = statistics.median(times) * 1000
print(json.dumps(out))
"""


def load(port: int, path: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    """Closed loop: each connection sends its next request when the last one is answered."""
    deadline = time.perf_counter() + seconds
    jobs = ((path, bodies[i % len(bodies)]) for i in itertools.count())
    started = time.perf_counter()
    results = post_concurrently(
        port, itertools.takewhile(lambda _: time.perf_counter() < deadline, jobs), concurrency
    )
    elapsed = time.perf_counter() - started
    if failed := [status for _, status, _ in results if status != 200]:
        raise RuntimeError(f"{path} answered {failed[0]}")
    latencies = sorted(seconds for _, _, seconds in results)
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "n": len(latencies),
    }


def wrk_load(
    port: int, path: str, bodies: list[bytes], concurrency: int, seconds: float, scratch: Path
) -> dict:
    """The same closed loop driven by `wrk` (Debian package `wrk`): a C client that takes less of the
    machine the servers run on. Bodies rotate as in the Python generator."""
    script = scratch / f"{path.strip('/')}.lua"
    quoted = ",\n".join("[==[" + body.decode() + "]==]" for body in bodies)
    script.write_text(
        f"bodies = {{\n{quoted}\n}}\ni = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script)]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{path} answered errors under wrk:\n{out}")
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def percentile(p: str) -> float:
        value, scale = re.search(rf"^\s*{p}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE).groups()
        return float(value) * unit[scale]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
        "n": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def prepare(project_dir: Path | None, scratch: Path):
    if project_dir is None:
        project = bake(scratch, project_name="bench demo")
        project.run("uv", "sync", "--quiet")
    else:
        from tests.conftest import BakedProject

        project = BakedProject(project_dir, {})
    return project


def timed_release(project, env: dict[str, str]) -> tuple[float, int]:
    """Two merges as main.yml runs them against one tracking store; times `release` (register, then
    promote, in one process) of the second: a champion exists, so the gate scores both models.
    Returns (seconds, exit status)."""
    pkg = project.package
    for n_estimators in (100, 120):
        project.set_hyperparameters(n_estimators=n_estimators)
        project.run("uv", "run", "dvc", "repro", "--force", **env)  # evaluate logs its run to this store
        project.commit(f"{n_estimators} trees", allow_empty=True)
        start = time.perf_counter()
        release = project.run("uv", "run", pkg, "release", check=False, **env)
        seconds = time.perf_counter() - start
    return seconds, release.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", type=Path, help="a generated, installed project (uv sync) to use instead of a new one"
    )
    parser.add_argument("--seconds", type=int, default=10, help="measurement per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        project = prepare(args.project, scratch)
        sqlite = {"MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'embedded.db'}"}
        release_sqlite, _ = timed_release(project, sqlite)
        registry, uri = mlflow_server(project.path, scratch, clean_env())
        try:
            home = {"BENTOML_HOME": str(scratch / "bentoml"), "MLFLOW_TRACKING_URI": uri}
            release, promote_status = timed_release(project, home)
            project.run("uv", "run", project.package, "bento", **home)
            measured = json.loads(
                project.run(
                    "uv", "run", "python", "-c", IN_PROCESS.format(pkg=project.package), **home
                ).stdout
            )
            results = serve_and_load(project, scratch, home, measured.pop("rows"), args.seconds)
        finally:
            registry.stop()
    report(results, measured, release, release_sqlite, promote_status)


def serve_and_load(project, scratch: Path, home: dict, rows: list[dict], seconds: float) -> dict:
    """Both servers of the @champion, one after the other, each at concurrency 1 then 32."""
    columns = list(rows[0])
    bento_bodies = [json.dumps(row).encode() for row in rows]
    mlflow_bodies = [
        json.dumps({"dataframe_split": {"columns": columns, "data": [list(row.values())]}}).encode()
        for row in rows
    ]
    bin_dir = project.path / ".venv/bin"
    name = re.search(r"registered_model: (\S+)", project.read("params.yaml")).group(1)
    bento_name = re.search(r'^name = "(\S+)"', project.read("pyproject.toml"), re.MULTILINE).group(1)
    servers = {
        "Bento (bentoml serve)": (
            [str(bin_dir / "bentoml"), "serve", f"{bento_name}:latest"],
            "/predict",
            bento_bodies,
            "/readyz",
        ),
        "mlflow models serve": (
            [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{name}@champion"]
            + ["--env-manager", "local"],
            "/invocations",
            mlflow_bodies,
            "/health",
        ),
    }
    results = {}
    for label, (command, path, bodies, ready) in servers.items():
        port = free_port()
        server = Server(
            command + ["--port", str(port), "--host", "127.0.0.1"],
            cwd=project.path,
            # mlflow models serve starts `uvicorn` by name: the project's environment comes first.
            env=clean_env(
                **home, MONITORING_DIR=str(scratch / "monitoring"), PATH=f"{bin_dir}:{os.environ['PATH']}"
            ),
            log=scratch / f"{label.split()[0]}.log",
            ready_url=f"http://127.0.0.1:{port}{ready}",
        )
        try:
            server.wait()
            # Warm-up: adaptive batching learns its timings from the first requests. Concurrency 1
            # is measured first: after a burst the batcher keeps waiting for company a while.
            load(port, path, bodies, 4, 3)
            results[label] = {c: measure(port, path, bodies, c, seconds, scratch) for c in (1, 32)}
            if path == "/predict":
                batch = rows[: max_batch(project)]
                results["beside large"] = beside_large(port, bodies, batch, seconds, scratch)
        finally:
            server.stop()
    return results


def max_batch(project) -> int:
    return int(yaml.safe_load(project.read("params.yaml"))["service"]["max_batch"])


def measure(
    port: int, path: str, bodies: list[bytes], concurrency: int, seconds: float, scratch: Path
) -> dict:
    if WRK:
        return wrk_load(port, path, bodies, concurrency, seconds, scratch)
    return load(port, path, bodies, concurrency, seconds)


def beside_large(port: int, bodies: list[bytes], batch: list[dict], seconds: float, scratch: Path) -> dict:
    """Single-row requests at concurrency 1 while 4 other clients send the largest batch the service
    takes, back to back: what a large request costs everyone else."""
    large: dict = {}

    def send_batches() -> None:
        try:
            large.update(load(port, "/predict_batch", [json.dumps(batch).encode()], 4, seconds + 2))
        except RuntimeError as error:  # a 503 under overload is a figure too
            large["error"] = str(error)

    thread = threading.Thread(target=send_batches)
    thread.start()
    time.sleep(1)  # the batches are flowing before the single rows are timed
    alone = measure(port, "/predict", bodies, 1, seconds, scratch)
    thread.join()
    return {"single": alone, "batch": large, "rows": len(batch)}


def report(results: dict, measured: dict, release: float, release_sqlite: float, promote_status: int) -> None:
    beside = results.pop("beside large")
    generator = "wrk" if WRK else "a Python asyncio client (install Debian's `wrk` for a lighter one)"
    print(f"single-row requests, closed loop, load generator {generator}, on the same machine")
    print(f"{'server':<24}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}")
    for label, by_concurrency in results.items():
        for concurrency, r in by_concurrency.items():
            print(f"{label:<24}{concurrency:>5}{r['rps']:>10.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['n']:>10}")
    bento, ref = results["Bento (bentoml serve)"], results["mlflow models serve"]
    single, batch = beside["single"], beside["batch"]
    print(
        f"Bento, single rows at concurrency 1 while 4 clients send {beside['rows']}-row batches: "
        f"p50 {single['p50']:.2f} ms, p99 {single['p99']:.2f} ms (alone: {bento[1]['p50']:.2f}, {bento[1]['p99']:.2f})"
    )
    if "error" in batch:
        print(f"  the batches: {batch['error']}")
    else:
        print(
            f"  the batches: {batch['rps']:.1f} req/s, p50 {batch['p50']:.2f} ms, p99 {batch['p99']:.2f} ms"
        )
    print()
    print("in-process, same model (median of 200 calls):")
    for n in (1, 32):
        print(
            f"  {n:>2} rows: predict {measured[f'predict_{n}']:.2f} ms, "
            f"predict_proba {measured[f'predict_proba_{n}']:.2f} ms"
        )
    print()
    ratio = bento[32]["rps"] / ref[32]["rps"]
    print(f"Bento / mlflow req/s at concurrency 32: {ratio:.1f}x  (target >= 5x)")
    print(f"Bento p99 at concurrency 32: {bento[32]['p99']:.1f} ms  (target < 100 ms)")
    gap = bento[1]["p50"] - measured["predict_proba_1"]
    print(
        f"Bento p50 at concurrency 1 minus in-process predict_proba of 1 row: {gap:.2f} ms  (target <= 3 ms)"
    )
    print("register + promote of a second model (`release`, one process, wall; target < 15 s):")
    print(f"  against `mlflow server` (MLFLOW_TRACKING_URI set, as in main.yml): {release:.1f} s")
    print(f"  against the embedded SQLite file (no server configured):          {release_sqlite:.1f} s")
    print(f"  exit status {promote_status} (0 promoted, 3 not promoted)")


if __name__ == "__main__":
    main()
