"""How long `release` takes to give up on a tracking server that is not there, and what it says.

    uv run python benchmarks/unreachable_registry.py [--project DIR] [--mlflow-defaults]

Generates a project (or reuses --project), reproduces its pipeline, then runs `release` against
  - a closed port (nothing listens: every connection is refused), and
  - a black hole (the port accepts connections and never answers, as a hung server does),
with the project's bounded retries and timeouts (tracking.CLIENT_DEFAULTS). With --mlflow-defaults
it runs the same again with MLflow's own settings (7 retries, 120 s per request), the
alternative; that takes minutes. Prints seconds, exit status and the error line beside the
target (exit 2, one sentence, under 30 s); it asserts nothing.
"""

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import BakedProject, bake
from tests.servers import free_port

TARGET_SECONDS = 30
MLFLOW_DEFAULTS = {  # what MLflow uses when nothing is set; set here so the project's do not apply
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
}


def black_hole() -> int:
    """A port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept() -> None:
        while True:
            held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def timed(project, uri: str, extra: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    result = project.run(
        "uv", "run", project.package, "release", check=False, MLFLOW_TRACKING_URI=uri, **extra
    )
    lines = result.stderr.strip().splitlines()
    return time.perf_counter() - start, result.returncode, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a generated, installed project (uv sync) to use")
    parser.add_argument("--mlflow-defaults", action="store_true", help="also time MLflow's own settings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.project:
            project = BakedProject(args.project, {})
        else:
            project = bake(Path(scratch), project_name="unreachable demo")
            project.run("uv", "sync", "--quiet")
        project.run("uv", "run", "dvc", "repro", "--quiet")
        servers = {
            "closed port": f"http://127.0.0.1:{free_port()}",
            "black hole": f"http://127.0.0.1:{black_hole()}",
        }
        settings = {"project defaults": {}}
        if args.mlflow_defaults:
            settings["MLflow defaults"] = MLFLOW_DEFAULTS
        print(
            f"`release` against a tracking server that is not there (target: exit 2 in < {TARGET_SECONDS} s)"
        )
        for setting, extra in settings.items():
            for server, uri in servers.items():
                seconds, status, error = timed(project, uri, extra)
                verdict = (
                    "ok"
                    if status == 2 and seconds < TARGET_SECONDS and error.startswith("error:")
                    else "MISSED"
                )
                print(f"  {setting:17} {server:12} {seconds:6.1f} s  exit {status}  {verdict}")
                print(f"      {error[:160]}")


if __name__ == "__main__":
    main()
