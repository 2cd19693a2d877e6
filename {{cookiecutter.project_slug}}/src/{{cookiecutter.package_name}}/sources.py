"""`source add`: bring a data file into data/source/ under DVC and make it params.yaml's data.source.

A local file is copied there and tracked with `dvc add`; a remote one (http(s)://, s3://, gs://,
azure://) is brought in with `dvc import-url`, so DVC records the version it got and
`dvc update` fetches a new one. Either way git keeps only the small `.dvc` file.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from .data import FILE_TYPES, SOURCE_DIR, is_remote
from .errors import UserError


def add_arguments(parser) -> None:
    """Subcommands of `source`."""
    sub = parser.add_subparsers(dest="source_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add",
        help="bring a CSV or parquet file (path or URL) into data/source/ under DVC; set data.source",
        description=__doc__.split("\n\n")[0],
    )
    add.add_argument("location", metavar="PATH_OR_URL", help="a CSV or parquet file, or its URL")
    add.add_argument("--name", help="file name in data/source/ (default: the file's own name)")


def _dvc(*args: str) -> str | None:
    """Run dvc; None when it succeeded, else the reason it gives (its last `ERROR: ... - reason`)."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    error = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "")
    return error.removeprefix("ERROR:").rsplit(" - ", 1)[-1].strip().rstrip(".") or "no reason given"


def _yaml_scalar(value: str) -> str:
    # Plain when YAML reads it back as the same string; else a JSON string, which YAML reads too.
    plain = re.fullmatch(r"[\w./-]+", value) and yaml.safe_load(value) == value
    return value if plain else json.dumps(value)


def set_source(params_path: Path, value: str) -> None:
    """Set data.source in params.yaml by editing its one line: comments and layout stay."""
    text = params_path.read_text(encoding="utf-8")
    value_pattern = r"\"[^\"\n]*\"|'[^'\n]*'|[^\s#]+"
    pattern = re.compile(
        rf"^data:[ \t]*(?:#.*)?\n(?:(?:[ \t]+.*|[ \t]*)\n)*?[ \t]+source:[ \t]*({value_pattern})", re.M
    )
    match = pattern.search(text)
    if not match:
        raise UserError(f"{params_path} has no `source:` line under `data:`; add `  source: {value}` there.")
    replaced = text[: match.start(1)] + _yaml_scalar(value) + text[match.end(1) :]
    if (yaml.safe_load(replaced).get("data") or {}).get("source") != value:
        raise UserError(f"{params_path} could not be edited safely; set data.source to {value} by hand.")
    params_path.write_text(replaced, encoding="utf-8")


def _name(location: str, name: str | None) -> str:
    name = name or Path(urlparse(location).path if is_remote(location) else location).name
    if Path(name).suffix.lower() not in FILE_TYPES:
        raise UserError(
            f"{name or location!r} does not end in .csv or .parquet; ingest reads those two formats "
            "(give --name data.csv if the URL hides the file name)."
        )
    if Path(name).name != name:
        raise UserError(f"--name {name!r} must be a file name, without a directory.")
    return name


def add(location: str, name: str | None = None, params_path: Path = Path("params.yaml")) -> Path:
    """Bring the file in, track it with DVC and set data.source; returns its path in data/source/."""
    target = SOURCE_DIR / _name(location, name)
    SOURCE_DIR.mkdir(parents=True, exist_ok=True)
    if is_remote(location):
        # --force: a second `source add` of the same name replaces the earlier import.
        reason = _dvc("import-url", "--force", location, str(target))
        if reason:
            raise UserError(
                f"dvc could not import {location} ({reason}); check the URL, and for s3://, gs:// or "
                "azure:// the credentials DVC uses."
            )
    else:
        path = Path(location)
        if not path.is_file():
            raise UserError(f"{path} not found; give the path of a CSV or parquet file.")
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        reason = _dvc("add", str(target))
        if reason:
            raise UserError(
                f"`dvc add {target}` failed ({reason}); run it yourself to see DVC's full output."
            )
    set_source(params_path, target.as_posix())
    return target
