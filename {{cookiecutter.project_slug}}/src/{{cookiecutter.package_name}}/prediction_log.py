"""Read the service's prediction log (monitoring.py writes it) for the drift check.

The log is a local directory or an object-store prefix (`s3://`, `gs://`, `az://`), read through
fsspec either way. A line the service never finished (a crash mid-write, a full disk) or that was
damaged later is skipped and counted, so one bad line does not cost the check its whole window; a
window with no readable line at all is an error.
"""

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from .errors import UserError
from .monitoring import is_url, log_store

PREDICTION = "prediction"
EXAMPLES = 5  # skipped lines named in the report; the rest are counted
PREFIX = "predictions-"


def read_log(location: Path | str, window_days: int | None) -> tuple[pd.DataFrame, dict]:
    """The log as a frame of features plus a prediction column, and what was read (files, skipped lines)."""
    import pyarrow as pa

    fs, _ = log_store(location)
    files = log_files(location, window_days)
    tables, skipped, lines = [], [], 0
    for path in files:
        table, bad, total = _read_file(path, fs.cat_file(path))
        skipped += bad
        lines += total
        if table is not None:
            tables.append(table)
    named = [fs.unstrip_protocol(f) for f in files] if is_url(location) else files
    meta = {"files": named, "time_range": None, "model_versions": []}
    meta["skipped_lines"] = {"count": len(skipped), "examples": skipped[:EXAMPLES]}
    if not tables:
        if skipped:
            raise UserError(
                f"none of the {lines} lines of the log window in {location} is a prediction log record "
                f'(first: {skipped[0]}); each line must be JSON with "features" and "prediction", '
                "as the service writes it."
            )
        return pd.DataFrame(), meta
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UserError(
            f"the log files in {location} disagree on a column's type ({exc}); fix the service's logging."
        ) from exc
    features = table.column("features").combine_chunks()
    columns = dict(zip((f.name for f in features.type), features.flatten(), strict=True))
    if PREDICTION in table.column_names:
        columns[PREDICTION] = table.column(PREDICTION)
    return pa.table(columns).to_pandas(), {**meta, **_summary(table)}


def fetch_window(location: str, window_days: int | None, directory: Path) -> list[Path]:
    """Copy the window's log files from an object store into `directory`, for a check that reads it there."""
    fs, _ = log_store(location)
    directory.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in log_files(location, window_days):
        copy = directory / path.rsplit("/", 1)[-1]
        copy.write_bytes(fs.cat_file(path))
        copies.append(copy)
    return copies


def _read_file(path: str, content: bytes):
    """(table or None, skipped lines described, lines in the file)."""
    import pyarrow as pa
    import pyarrow.json as pj  # parses in parallel: about ten times faster than json.loads per line

    try:
        table = pj.read_json(pa.BufferReader(content))
        if pa.types.is_struct(table.schema.field("features").type):
            return table, [], table.num_rows
    except (pa.ArrowInvalid, KeyError):
        pass
    # Not every line is a record: keep those that are, line by line (slower, but only for this file).
    good, bad, total = _sort_lines(path, content)
    if not good:
        return None, bad, total
    try:
        return pj.read_json(pa.BufferReader("".join(good).encode())), bad, total
    except pa.ArrowInvalid as exc:
        reason = str(exc).strip().splitlines()[0]
        raise UserError(f"{path} could not be read ({reason}); fix the service's logging.") from exc


def _sort_lines(path: str, content: bytes) -> tuple[list[str], list[str], int]:
    """(good lines, "file line N: reason" of each bad one, lines), N counted from 1 as editors do.

    A line is good when it is a JSON object with a "features" object whose values are each of the
    kind (number, text, ...) most lines give that column.
    """
    records, bad, total = [], [], 0
    for number, text in enumerate(content.decode("utf-8", errors="replace").splitlines(keepends=True), 1):
        total += 1
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            bad.append((number, f"not JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("features"), dict):
            bad.append((number, 'no "features" object'))
            continue
        records.append((number, text, {k: _kind(v) for k, v in record["features"].items()}))
    votes = Counter((name, kind) for *_, kinds in records for name, kind in kinds.items() if kind)
    usual = {}
    for name, kind in (pair for pair, _ in votes.most_common()):
        usual.setdefault(name, kind)
    good = []
    for number, text, kinds in records:
        odd = next((n for n, k in kinds.items() if k and k != usual[n]), None)
        if odd is None:
            good.append(text if text.endswith("\n") else text + "\n")
        else:
            bad.append((number, f"{odd!r} is {kinds[odd]} where other lines have {usual[odd]}"))
    name = path.rsplit("/", 1)[-1]
    described = [f"{name} line {number}: {reason}" for number, reason in sorted(bad)]
    return good, described, total


def _kind(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else "a list or object"


def _summary(table) -> dict:
    """When the logged predictions were made, and by which model versions."""
    import pyarrow.compute as pc

    summary = {"time_range": None, "model_versions": []}
    if "time" in table.column_names:
        first_last = pc.min_max(table.column("time"))
        if first_last["min"].is_valid:
            summary["time_range"] = [str(first_last[k].as_py()) for k in ("min", "max")]
    if "model_version" in table.column_names:
        versions = pc.unique(table.column("model_version")).drop_null().to_pylist()
        summary["model_versions"] = sorted(str(v) for v in versions)
    return summary


def log_files(location: Path | str, window_days: int | None) -> list[str]:
    """The non-empty log files (paths in their store), of the last `window_days` days up to the newest.

    A directory's files are predictions-YYYY-MM-DD.jsonl; an object store's are
    predictions-YYYY-MM-DD-<time>-<writer>.jsonl, several a day."""
    fs, root = log_store(location)
    found = fs.glob(f"{root.rstrip('/')}/{PREFIX}*.jsonl", detail=True)
    dated = {path: _file_date(path) for path, info in sorted(found.items()) if info.get("size")}
    if not window_days or not dated:
        return list(dated)
    newest = max(dated.values())
    return [f for f, day in dated.items() if day > newest - timedelta(days=int(window_days))]


def _file_date(path: str) -> date:
    name = path.rsplit("/", 1)[-1]
    try:
        return date.fromisoformat(name.removeprefix(PREFIX)[:10])
    except ValueError as exc:
        raise UserError(
            f"{name} does not start with a date; name log files predictions-YYYY-MM-DD.jsonl."
        ) from exc
