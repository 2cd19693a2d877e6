"""`serve`: a busy port is one sentence; a free one starts `bentoml serve` as the Makefile documents."""

import os
import socket

import pytest

from {{ cookiecutter.package_name }} import serve
from {{ cookiecutter.package_name }}.cli import main


@pytest.fixture
def exec_calls(monkeypatch):
    """Record the command the process would become, instead of becoming it."""
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv, os.environ[serve.ENV_DIR])))
    monkeypatch.delenv(serve.ENV_DIR, raising=False)
    return calls


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_sentence_naming_it_and_the_way_out(workdir, exec_calls, busy_port, capsys):
    assert main(["serve", "--port", str(busy_port)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: port {busy_port} on 127.0.0.1 is in use")
    assert "`make serve PORT=" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert exec_calls == []


def test_a_free_port_becomes_bentoml_serve_with_the_monitoring_dir(workdir, exec_calls):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free again when serve checks it
    main(["serve", "--port", str(port)])
    ((path, argv, monitoring),) = exec_calls
    assert argv[0] == path and path.endswith("bentoml")
    assert argv[1:] == ["serve", serve.BENTO, "--host", "127.0.0.1", "--port", str(port)]
    assert monitoring == str((workdir / "monitoring").resolve())


def test_a_number_that_is_no_port_is_refused(workdir, exec_calls, capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "port 70000 is not a TCP port" in capsys.readouterr().err
    assert exec_calls == []
