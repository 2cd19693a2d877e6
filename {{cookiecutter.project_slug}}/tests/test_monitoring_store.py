"""The prediction log under an object-store prefix: written by flushes, read back by the drift check.

fsspec's in-memory file system stands for the store here (the same interface s3fs, gcsfs and adlfs
implement); the template's own tests run the service against an S3-compatible server.
"""

import json
import threading
import uuid

import fsspec
import pytest

from {{ cookiecutter.package_name }} import monitoring, prediction_log
from {{ cookiecutter.package_name }}.errors import UserError


@pytest.fixture
def prefix():
    url = f"memory://logs-{uuid.uuid4().hex}/predictions"
    yield url
    fs, root = fsspec.core.url_to_fs(url)
    fs.rm(root.split("/")[0], recursive=True)


def stored(url: str) -> dict[str, bytes]:
    fs, root = fsspec.core.url_to_fs(url)
    return {path.rsplit("/", 1)[-1]: fs.cat_file(path) for path in fs.glob(f"{root}/*")}


def test_an_object_store_log_writes_its_lines_as_one_date_named_object_per_flush(prefix):
    log = monitoring.open_log(prefix, {"log_flush_seconds": 3600})
    log.append("4", [{"a": 1.0}, {"a": 2.0}], [0, 1], [{"0": 0.9, "1": 0.1}, {"0": 0.2, "1": 0.8}])
    log.append("4", [{"a": 3.0}], [1])
    assert stored(prefix) == {}  # nothing is written before the flush
    log.flush()
    ((name, content),) = stored(prefix).items()
    assert name.startswith("predictions-") and name.endswith(".jsonl")
    records = [json.loads(line) for line in content.decode().splitlines()]
    assert [r["features"]["a"] for r in records] == [1.0, 2.0, 3.0]
    assert records[0]["probabilities"] == {"0": 0.9, "1": 0.1} and records[0]["model_version"] == "4"
    log.flush()  # nothing buffered: nothing written
    assert len(stored(prefix)) == 1


def test_replicas_never_write_the_same_object(prefix):
    logs = [monitoring.ObjectStoreLog(prefix, flush_seconds=3600) for _ in range(3)]
    for log in logs:
        log.append("1", [{"a": 1.0}], [0])
        log.flush()
    assert len(stored(prefix)) == 3


def test_a_full_buffer_and_a_quiet_interval_each_flush_without_a_request_waiting(prefix):
    log = monitoring.ObjectStoreLog(prefix, flush_seconds=3600, flush_lines=3)
    written = threading.Event()
    flush = log.flush
    log.flush = lambda: (flush(), written.set())
    log.append("1", [{"a": float(i)} for i in range(3)], [0, 0, 0])
    assert written.wait(30)
    assert len(stored(prefix)) == 1

    quiet = monitoring.ObjectStoreLog(prefix, flush_seconds=0.2)
    written.clear()
    flush_quiet = quiet.flush
    quiet.flush = lambda: (flush_quiet(), written.set())
    quiet.append("1", [{"a": 1.0}], [0])  # no more traffic: the timer writes it
    assert written.wait(30)
    assert len(stored(prefix)) == 2


def test_lines_the_store_refused_are_written_by_the_next_flush(prefix):
    log = monitoring.ObjectStoreLog(prefix, flush_seconds=3600)
    real = log.fs.pipe_file
    log.fs.pipe_file = lambda *a, **k: (_ for _ in ()).throw(PermissionError("access denied"))
    log.append("1", [{"a": 1.0}], [0])
    log.flush()
    assert stored(prefix) == {}
    log.fs.pipe_file = real
    log.append("1", [{"a": 2.0}], [1])
    log.flush()
    (content,) = stored(prefix).values()
    assert [json.loads(line)["features"]["a"] for line in content.decode().splitlines()] == [1.0, 2.0]


def write(url: str, name: str, rows: list[float]) -> None:
    fs, root = fsspec.core.url_to_fs(url)
    lines = [json.dumps({"features": {"a": value}, "prediction": 0, "model_version": "2"}) for value in rows]
    fs.pipe_file(f"{root}/{name}", ("\n".join(lines) + "\n").encode())


def test_the_drift_window_reads_every_object_of_its_days(prefix, tmp_path):
    write(prefix, "predictions-2025-03-01-101500-aaaa-0001.jsonl", [0.0])  # outside a 2-day window
    write(prefix, "predictions-2025-03-06-101500-aaaa-0001.jsonl", [1.0, 2.0])
    write(prefix, "predictions-2025-03-07-090000-bbbb-0001.jsonl", [3.0])
    write(prefix, "predictions-2025-03-07-120000-aaaa-0002.jsonl", [4.0])
    frame, meta = prediction_log.read_log(prefix, 2)
    assert sorted(frame["a"]) == [1.0, 2.0, 3.0, 4.0]
    assert all(f.startswith("memory://") for f in meta["files"]) and len(meta["files"]) == 3
    copies = prediction_log.fetch_window(prefix, 2, tmp_path / "window")
    assert sorted(c.name for c in copies) == sorted(f.rsplit("/", 1)[-1] for f in meta["files"])
    local, _ = prediction_log.read_log(tmp_path / "window", None)
    assert sorted(local["a"]) == sorted(frame["a"])


def test_a_log_location_no_file_system_opens_is_one_sentence():
    with pytest.raises(UserError, match="cannot be opened .*install the file system"):
        monitoring.open_log("nosuchscheme://bucket/logs")
    with pytest.raises(UserError, match="cannot be opened"):
        prediction_log.read_log("nosuchscheme://bucket/logs", 7)


def test_monitoring_dir_keeps_an_object_store_url(monkeypatch):
    monkeypatch.setenv(monitoring.ENV_DIR, "s3://bucket/predictions/")
    assert monitoring.monitoring_dir({}) == "s3://bucket/predictions"
    assert isinstance(monitoring.open_log(monitoring.monitoring_dir({})), monitoring.ObjectStoreLog)
