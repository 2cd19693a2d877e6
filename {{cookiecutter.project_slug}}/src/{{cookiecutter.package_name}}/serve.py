"""`serve`: serve the last built Bento on this machine, logging its predictions for the drift check.

The port is checked before BentoML starts, so a busy port is one sentence rather than a traceback
from deep inside the server. Then the process becomes `bentoml serve`, with the monitoring log's
directory made absolute: the service runs from the Bento, not from this directory.
"""

import os
import shutil
import socket
import sys
from pathlib import Path

from .errors import UserError
from .monitoring import ENV_DIR, monitoring_dir

BENTO = "{{ cookiecutter.project_slug }}:latest"
HOST = "127.0.0.1"
PORT = 3000


def add_arguments(parser) -> None:
    """Options of `serve`."""
    parser.add_argument("--port", type=int, default=PORT, help="port to listen on (default: %(default)s)")
    parser.add_argument("--host", default=HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument("--bento", default=BENTO, help="Bento to serve (default: %(default)s)")


def bind_error(host: str, port: int) -> OSError | None:
    """Bind the port as the server will (address reuse on, as uvicorn does), then let it go."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UserError(
            f"port {port} is not a TCP port; give one from 1 to 65535, e.g. `make serve PORT={PORT}`."
        )
    error = bind_error(host, port)
    if error is not None:
        free = next((p for p in range(port + 1, min(port + 100, 65536)) if bind_error(host, p) is None), None)
        hint = f"`make serve PORT={free}`" if free else "`make serve PORT=<another port>`"
        raise UserError(
            f"port {port} on {host} is in use ({error.strerror}): stop what listens there, "
            f"or serve on another port with {hint}."
        )


def command(bento: str, host: str, port: int) -> list[str]:
    """The `bentoml serve` command line, with the bentoml of this environment."""
    bentoml = shutil.which("bentoml", path=str(Path(sys.executable).parent)) or shutil.which("bentoml")
    if bentoml is None:
        raise UserError("bentoml is not installed in this environment; run `make setup` first.")
    return [bentoml, "serve", bento, "--host", host, "--port", str(port)]


def run(params: dict, bento: str, host: str, port: int) -> None:
    """Check the port, then replace this process with the server (its exit status is the server's)."""
    check_port(host, port)
    argv = command(bento, host, port)
    os.environ[ENV_DIR] = str(monitoring_dir(params))
    print(f"serving {bento} at http://{host}:{port}; predictions go to {os.environ[ENV_DIR]}", flush=True)
    os.execv(argv[0], argv)
