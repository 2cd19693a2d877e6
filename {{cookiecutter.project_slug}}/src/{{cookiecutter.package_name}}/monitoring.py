"""The monitoring log: every prediction the service makes, one JSON line per row, for the drift check.

The log lives in a local directory (a volume in a container) or under an object-store prefix
(`s3://`, `gs://`, `az://`, any URL fsspec opens). Files are date-named by UTC date:
`predictions-YYYY-MM-DD.jsonl` in a directory, appended to; `predictions-YYYY-MM-DD-HHMMSS-<id>.jsonl`
under a prefix, one object per flush, as objects cannot be appended to. A record:
{"time": ISO-8601 UTC, "model_version": "3", "features": {column: value}, "prediction": number,
 "probabilities": {class label: probability}}  (probabilities for classification only)
"""

import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from .errors import UserError

ENV_DIR = "MONITORING_DIR"  # overrides params.yaml service.monitoring_dir, e.g. a volume in a container
FLUSH_SECONDS = 60.0  # an object-store log writes its buffered lines at least this often
FLUSH_LINES = 10_000  # ... and as soon as this many wait
MAX_BUFFERED_LINES = 1_000_000  # while the store refuses writes, older lines beyond this are dropped

logger = logging.getLogger(__name__)


def is_url(location) -> bool:
    return "://" in str(location)


def monitoring_dir(params: dict) -> Path | str:
    """Where the log is: an absolute directory, or an object-store URL (without a trailing /)."""
    configured = os.environ.get(ENV_DIR) or (params.get("service") or {}).get("monitoring_dir")
    if is_url(configured):
        return str(configured).rstrip("/")
    return Path(configured or "monitoring").expanduser().resolve()


def log_store(location: Path | str):
    """(fsspec file system, root path) of a log directory or object-store prefix."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(str(location))
    except (ImportError, ValueError) as exc:
        raise UserError(
            f"the prediction log {location} cannot be opened ({exc}); install the file system its "
            "scheme needs (s3fs, gcsfs or adlfs), or log to a directory."
        ) from exc


def log_path(directory: Path, when: datetime) -> Path:
    return directory / f"predictions-{when:%Y-%m-%d}.jsonl"


def _lines(
    when: datetime,
    model_version: str,
    rows: list[dict],
    predictions: list,
    probabilities: list[dict[str, float]] | None,
) -> str:
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = []
    for i, (row, prediction) in enumerate(zip(rows, predictions, strict=True)):
        record = {"time": stamp, "model_version": model_version, "features": row, "prediction": prediction}
        if probabilities is not None:
            record["probabilities"] = probabilities[i]
        lines.append(json.dumps(record, allow_nan=False) + "\n")
    return "".join(lines)


def append(
    directory: Path,
    model_version: str,
    rows: list[dict],
    predictions: list,
    probabilities: list[dict[str, float]] | None = None,
) -> Path:
    """Append one record per row; one write call, so concurrent workers never interleave lines."""
    now = datetime.now(UTC)
    text = _lines(now, model_version, rows, predictions, probabilities)
    path = log_path(directory, now)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path


class DirectoryLog:
    """The log in a local directory: each call appends at once."""

    def __init__(self, directory: Path) -> None:
        self.location = directory

    def append(self, model_version, rows, predictions, probabilities=None) -> None:
        append(self.location, model_version, rows, predictions, probabilities)

    def flush(self) -> None:
        pass


class ObjectStoreLog:
    """The log under an object-store prefix: lines are buffered and written as one new object per
    flush (every `flush_seconds`, or at `flush_lines` lines, and at shutdown), named by this
    process's id so that replicas never write the same object.

    A failed write keeps its lines for the next flush; predictions never wait for the store.
    """

    def __init__(
        self, url: str, flush_seconds: float = FLUSH_SECONDS, flush_lines: int = FLUSH_LINES
    ) -> None:
        self.fs, self.root = log_store(url)
        self.location, self.flush_seconds, self.flush_lines = url, flush_seconds, flush_lines
        self.writer_id = secrets.token_hex(4)
        self._pending: dict[str, list[str]] = {}  # day -> text chunks
        self._count = 0
        self._lock = threading.Lock()  # flushes run in a thread; appends in the event loop
        self._timer: threading.Timer | None = None

    def append(self, model_version, rows, predictions, probabilities=None) -> None:
        now = datetime.now(UTC)
        text = _lines(now, model_version, rows, predictions, probabilities)
        with self._lock:
            self._pending.setdefault(f"{now:%Y-%m-%d}", []).append(text)
            self._count += len(rows)
            full = self._count >= self.flush_lines
            if self._timer is None and not full:
                self._timer = threading.Timer(self.flush_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            threading.Thread(target=self.flush, daemon=True).start()

    def flush(self) -> None:
        """Write what is buffered, one object per day; what fails to be written is kept."""
        with self._lock:
            pending, self._pending, self._count = self._pending, {}, 0
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        stamp = f"{datetime.now(UTC):%H%M%S}"
        failed: dict[str, list[str]] = {}
        for day, chunks in pending.items():
            path = f"{self.root}/predictions-{day}-{stamp}-{self.writer_id}-{secrets.token_hex(2)}.jsonl"
            try:
                self.fs.pipe_file(path, "".join(chunks).encode())
            except Exception as exc:  # any store error: the lines wait for the next flush
                logger.warning("prediction log not written to %s (%s); retrying at the next flush", path, exc)
                failed[day] = chunks
        if failed:
            self._keep(failed)

    def _keep(self, failed: dict[str, list[str]]) -> None:
        with self._lock:
            for day, chunks in failed.items():
                self._pending[day] = chunks + self._pending.get(day, [])
                self._count += sum(chunk.count("\n") for chunk in chunks)
            while self._count > MAX_BUFFERED_LINES and self._pending:
                oldest = min(self._pending)
                dropped = sum(chunk.count("\n") for chunk in self._pending.pop(oldest))
                self._count -= dropped
                logger.error(
                    "prediction log: %d lines of %s dropped, the store refused them", dropped, oldest
                )
            if self._timer is None:
                self._timer = threading.Timer(self.flush_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()


def open_log(location: Path | str, service: dict | None = None) -> DirectoryLog | ObjectStoreLog:
    """The writer for `location`; service.log_flush_seconds sets an object store's flush interval."""
    if not is_url(location):
        return DirectoryLog(Path(location))
    seconds = float((service or {}).get("log_flush_seconds", FLUSH_SECONDS))
    return ObjectStoreLog(str(location), flush_seconds=seconds)
