"""The monitoring log: every prediction the service makes, one JSON line per row, for the drift check.

Files are `<dir>/predictions-YYYY-MM-DD.jsonl` (UTC dates). A record:
{"time": ISO-8601 UTC, "model_version": "3", "features": {column: value}, "prediction": number,
 "probabilities": {class label: probability}}  (probabilities for classification only)
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

ENV_DIR = "MONITORING_DIR"  # overrides params.yaml service.monitoring_dir, e.g. a volume in a container


def monitoring_dir(params: dict) -> Path:
    configured = os.environ.get(ENV_DIR) or (params.get("service") or {}).get("monitoring_dir")
    return Path(configured or "monitoring").expanduser().resolve()


def log_path(directory: Path, when: datetime) -> Path:
    return directory / f"predictions-{when:%Y-%m-%d}.jsonl"


def append(
    directory: Path,
    model_version: str,
    rows: list[dict],
    predictions: list,
    probabilities: list[dict[str, float]] | None = None,
) -> Path:
    """Append one record per row; one write call, so concurrent workers never interleave lines."""
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = []
    for i, (row, prediction) in enumerate(zip(rows, predictions, strict=True)):
        record = {"time": stamp, "model_version": model_version, "features": row, "prediction": prediction}
        if probabilities is not None:
            record["probabilities"] = probabilities[i]
        lines.append(json.dumps(record, allow_nan=False) + "\n")
    path = log_path(directory, now)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(lines).encode())
    finally:
        os.close(fd)
    return path
