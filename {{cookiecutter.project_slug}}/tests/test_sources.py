"""`source add`: a local file or a URL into data/source/ under DVC, and params.yaml's data.source set."""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.data import ingest
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.params import load_params
from {{ cookiecutter.package_name }}.sources import set_source

CSV = "size,plan,y\n1.5,basic,a\n2.5,pro,b\n"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(workdir, monkeypatch):
    """The scratch project as a git and DVC repository. DVC runs in this process (its start-up
    took most of these tests' time); the project's command is on PATH for the stages it runs."""
    subprocess.run(["git", "init", "-q"], check=True)
    Repo.init().close()
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return workdir


@pytest.fixture
def served(tmp_path_factory):
    """A directory served over HTTP on a free loopback port: a remote file that can change."""
    root = tmp_path_factory.mktemp("served")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_set_source_edits_the_one_line_and_keeps_comments(workdir):
    before = (workdir / "params.yaml").read_text()
    set_source(workdir / "params.yaml", "data/source/my data.csv")
    after = (workdir / "params.yaml").read_text()
    assert load_params()["data"]["source"] == "data/source/my data.csv"
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.split("#", 1)[1] == new.split("#", 1)[1]  # the comment stays


def test_set_source_needs_the_line(workdir):
    (workdir / "p.yaml").write_text("task: classification\ndata:\n  min_rows: 5\n")
    with pytest.raises(UserError, match="has no `source:` line under `data:`"):
        set_source(workdir / "p.yaml", "data/source/x.csv")


def test_add_a_local_file(repo, tmp_path_factory, capsys):
    outside = tmp_path_factory.mktemp("exports") / "customers.csv"
    outside.write_text(CSV)
    assert main(["source", "add", str(outside)]) == 0
    assert (repo / "data/source/customers.csv").read_text() == CSV
    tracked = yaml.safe_load((repo / "data/source/customers.csv.dvc").read_text())
    assert tracked["outs"][0]["path"] == "customers.csv"
    assert "customers.csv" in (repo / "data/source/.gitignore").read_text()
    assert load_params()["data"]["source"] == "data/source/customers.csv"
    assert "schema infer data/source/customers.csv" in capsys.readouterr().out
    assert ingest(load_params()).read_text() == CSV


def test_add_refuses_other_formats_and_missing_files(workdir, capsys):
    (workdir / "notes.txt").write_text("hello")
    assert main(["source", "add", "notes.txt"]) == 2
    assert "does not end in .csv or .parquet" in capsys.readouterr().err
    assert main(["source", "add", "absent.csv"]) == 2
    assert "absent.csv not found" in capsys.readouterr().err
    assert not (workdir / "data/source/absent.csv").exists()


def test_add_a_url_imports_it_and_dvc_notices_a_new_version(repo, served):
    root, url = served
    (root / "orders.csv").write_text(CSV)
    assert main(["source", "add", f"{url}/orders.csv"]) == 0
    assert load_params()["data"]["source"] == "data/source/orders.csv"
    assert (repo / "data/source/orders.csv").read_text() == CSV
    imported = yaml.safe_load((repo / "data/source/orders.csv.dvc").read_text())
    assert imported["deps"][0]["path"] == f"{url}/orders.csv"  # DVC records where it came from
    # The project's ingest stage, run once on it.
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    data_py = Path("src/{{ cookiecutter.package_name }}/data.py")
    data_py.parent.mkdir(parents=True)
    shutil.copy(ROOT / data_py, data_py)
    with Repo() as dvc:
        dvc.reproduce("ingest", single_item=True)
        assert (repo / "data/raw/dataset.csv").read_text() == CSV
        assert dvc.status(targets=["ingest"]) == {}

        (root / "orders.csv").write_text(CSV + "3.5,team,a\n")  # the remote file changes
        dvc.update(["data/source/orders.csv.dvc"])
        assert (repo / "data/source/orders.csv").read_text().endswith("3.5,team,a\n")
        updated = yaml.safe_load((repo / "data/source/orders.csv.dvc").read_text())
        assert updated["outs"][0]["md5"] != imported["outs"][0]["md5"]
        changed = {"ingest": [{"changed deps": {"data/source": "modified"}}]}
        assert dvc.status(targets=["ingest"]) == changed  # `dvc repro` runs ingest again


def test_a_url_that_fails_is_one_sentence(repo, served, capsys):
    _, url = served
    assert main(["source", "add", f"{url}/absent.csv"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: dvc could not import {url}/absent.csv (dependency '{url}/absent.csv' does not exist); "
        "check the URL, and for s3://, gs:// or azure:// the credentials DVC uses.\n"
    )
    assert load_params()["data"]["source"] != "data/source/absent.csv"
