"""schema.yaml from a data file (`schema infer`), and a valid request row from schema.yaml (`schema example`).

Inference reads what the file shows and writes it down for a person to review:
  - a column whose every value is a number is `int` when each is written as a whole number
    (1, not 1.0), else `float`, with the range seen widened by 10% of it on each side (never
    below 0 for a column with no negative value). Numbers stay numbers, even a few codes
    (1, 2, 3): the notes name such columns, to be made `category` by hand if they are labels;
  - any other column is `category`, its allowed values the ones seen (the 50 most frequent, with
    `allow_unknown: true`, when there are more);
  - `nullable: true` where values are missing;
  - the target's classes for classification, its range for regression.
"""

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .data import read_file
from .errors import UserError

MARGIN = 0.1  # of a numeric column's range, added on each side
MAX_LISTED = 50  # category values written to `allowed`; beyond it: the most frequent and allow_unknown
CLASS_LIKE = 20  # a whole-number target with at most this many values looks like classes
FEW_CODES = 10  # a whole-number feature with at most this many values is named in the notes
WHOLE = re.compile(r"[+-]?\d+")

HEADER = """\
# The data contract, inferred from {source} ({rows} rows) by `{{ cookiecutter.package_name }} schema infer`.
# Review it before you commit it: it says what the data showed, not what it may hold.
# - min/max are the values seen, widened by 10% of their range (not below 0 for columns with
#   no negative value): set the limits a valid value really has;
# - category columns list the values seen: add `allow_unknown: true` where others are valid;
# - nullable: true marks columns that had missing values: remove it where a value is required.
# The validate stage checks every row of data/raw against this file, and the service builds its
# request schema from it.
"""


def add_arguments(parser) -> None:
    """Subcommands of `schema`."""
    sub = parser.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    infer = sub.add_parser(
        "infer",
        help="write schema.yaml from a CSV or parquet file, for review",
        description="Write schema.yaml (--schema) from a CSV or parquet file, for review.",
    )
    infer.add_argument("data", metavar="DATA", help="a CSV or parquet file, e.g. data/source/data.csv")
    infer.add_argument("--target", help="the column to predict (default: the last column)")
    infer.add_argument("--force", action="store_true", help="replace an existing schema.yaml")
    sub.add_parser(
        "example",
        help="print a request row that schema.yaml accepts (JSON), e.g. for curl",
        description="Print one row, as JSON, that the service's request schema accepts.",
    )


def _number(value: float, decimals: int | None = None) -> int | float:
    value = round(float(value), decimals) if decimals is not None else float(value)
    return int(value) if value.is_integer() else value


def _bounds(low: float, high: float, whole: bool) -> tuple[int | float, int | float]:
    span = high - low
    margin = MARGIN * (span if span > 0 else (abs(high) or 1.0))
    lower, upper = low - margin, high + margin
    if low >= 0:
        lower = max(lower, 0.0)
    if whole:
        return math.floor(lower), math.ceil(upper)
    # Three significant digits of the widened range, rounded outwards.
    step = 10.0 ** (math.floor(math.log10(upper - lower)) - 2)
    decimals = max(0, -math.floor(math.log10(step)))
    return (
        _number(math.floor(lower / step) * step, decimals),
        _number(math.ceil(upper / step) * step, decimals),
    )


def _missing(series: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(series) or series.dtype == object:
        return series.isna() | (series.astype("string").str.strip() == "")
    return series.isna()


def _numbers(present: pd.Series) -> pd.Series | None:
    """The values as numbers, or None when some are not numbers (or are booleans)."""
    if pd.api.types.is_bool_dtype(present):
        return None
    numbers = pd.to_numeric(present, errors="coerce")
    return numbers if numbers.notna().all() else None


def _is_whole(present: pd.Series, numbers: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(present):
        return True
    if pd.api.types.is_numeric_dtype(present):
        return False  # a float column of a typed file (parquet): written as 1.0
    return bool(present.astype("string").str.strip().str.fullmatch(WHOLE).all())


def _column(name: str, series: pd.Series, notes: list[str]) -> dict[str, Any]:
    missing = _missing(series)
    present = series[~missing]
    if present.empty:
        notes.append(f"column '{name}' has no values at all: it was written as nullable float; drop it.")
        return {"dtype": "float", "nullable": True}
    numbers = _numbers(present)
    if numbers is not None:
        whole = _is_whole(present, numbers)
        low, high = _bounds(float(numbers.min()), float(numbers.max()), whole)
        spec: dict[str, Any] = {"dtype": "int" if whole else "float", "min": low, "max": high}
        if whole and numbers.nunique() <= FEW_CODES:
            notes.append(
                f"column '{name}' holds {numbers.nunique()} distinct whole numbers: if they are codes, "
                "not quantities, make it `dtype: category` with their `allowed` values."
            )
    else:
        values = present.astype("string").str.strip()
        counts = values.value_counts()
        spec = {"dtype": "category", "allowed": sorted(counts.index[:MAX_LISTED].tolist())}
        if len(counts) > MAX_LISTED:
            spec["allow_unknown"] = True
            notes.append(
                f"column '{name}' has {len(counts)} distinct values: the {MAX_LISTED} most frequent are "
                "listed and others are accepted (allow_unknown)."
            )
        if len(counts) == len(values) and len(values) >= 20:
            notes.append(
                f"column '{name}' has a different value on every row: an identifier predicts nothing; "
                "drop it from the source."
            )
    if missing.any():
        spec["nullable"] = True
    return spec


def target_kind(series: pd.Series) -> tuple[str, str]:
    """'classification' or 'regression', as the target's values suggest, and why."""
    present = series[~_missing(series)]
    numbers = _numbers(present)
    if numbers is None:
        return "classification", "it holds text"
    distinct = numbers.nunique()
    if (numbers == numbers.round()).all() and distinct <= CLASS_LIKE:
        return "classification", f"it holds {distinct} distinct whole numbers"
    return "regression", f"it holds {distinct} distinct numbers"


def _target(name: str, series: pd.Series, task: str, notes: list[str]) -> dict[str, Any]:
    missing = _missing(series)
    if missing.any():
        notes.append(
            f"the target '{name}' has {int(missing.sum())} missing values: rows without a target cannot "
            "train or be scored; drop them from the source."
        )
    present = series[~missing]
    if present.empty:
        raise UserError(f"the target column '{name}' has no values; choose another with --target.")
    numbers = _numbers(present)
    if task == "regression":
        if numbers is None:
            raise UserError(
                f"the target '{name}' holds text, which a regression cannot predict (params.yaml task); "
                "choose a numeric column with --target."
            )
        whole = _is_whole(present, numbers)
        low, high = _bounds(float(numbers.min()), float(numbers.max()), whole)
        return {"name": name, "dtype": "int" if whole else "float", "min": low, "max": high}
    if numbers is None:
        classes: list = sorted(present.astype("string").str.strip().unique().tolist())
        spec = {"name": name, "dtype": "category", "allowed": classes}
    elif (numbers == numbers.round()).all():
        classes = sorted(int(v) for v in numbers.unique())
        spec = {"name": name, "dtype": "int", "allowed": classes}
    else:
        classes = sorted(_number(v) for v in numbers.unique())
        spec = {"name": name, "dtype": "float", "allowed": classes}
    if len(classes) < 2:
        notes.append(f"the target '{name}' has one class ({classes[0]}): a classifier needs two or more.")
    return spec


def infer(frame: pd.DataFrame, target: str, task: str) -> tuple[dict[str, Any], list[str]]:
    """The schema of `frame` with `target` as the target, and notes for the reviewer."""
    notes: list[str] = []
    features = {str(name): _column(str(name), frame[name], notes) for name in frame.columns if name != target}
    if not features:
        raise UserError(f"the data has no column besides the target '{target}'; a model needs features.")
    return {"target": _target(target, frame[target], task, notes), "features": features}, notes


def _flow(key: str, value: Any) -> str:
    """`key: {…}` on one line, quoted where YAML needs it."""
    text = yaml.safe_dump({key: value}, default_flow_style=True, sort_keys=False, width=1 << 20)
    return text.strip()[1:-1]


def render(schema: dict[str, Any], header: str) -> str:
    lines = [header.rstrip("\n"), _flow("target", schema["target"]), "features:"]
    lines += [f"  {_flow(name, spec)}" for name, spec in schema["features"].items()]
    text = "\n".join(lines) + "\n"
    assert yaml.safe_load(text) == schema, "the rendered schema must read back as inferred"
    return text


def infer_file(data: Path, out: Path, target: str | None, task: str, force: bool = False) -> dict:
    """Write `out` from the data file; returns what the command reports."""
    if out.exists() and not force:
        raise UserError(f"{out} already exists; review and edit it, or run again with --force to replace it.")
    frame = read_file(data)
    if frame.empty:
        raise UserError(f"{data} has no rows; a schema needs data to infer from.")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    target = target or columns[-1]
    if target not in columns:
        raise UserError(f"--target {target!r} is not a column of {data}; choose one of {', '.join(columns)}.")
    schema, notes = infer(frame, target, task)
    kind, why = target_kind(frame[target])
    text = render(schema, HEADER.format(source=data.as_posix(), rows=len(frame)))
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    return {"schema": schema, "notes": notes, "looks_like": kind, "why": why, "rows": len(frame)}


def _example_value(spec: dict[str, Any]) -> Any:
    dtype = spec.get("dtype", "float")
    cast = {"float": float, "int": int, "category": str}.get(dtype, float)
    if spec.get("allowed"):
        return cast(spec["allowed"][0])
    if dtype == "category":
        return "text"  # no list of allowed values: any text is valid
    low, high = spec.get("min"), spec.get("max")
    bounds = [b for b in (low, high) if b is not None]
    middle = sum(bounds) / len(bounds) if bounds else 0
    if dtype == "int":
        value = math.floor(middle)
        if low is not None and value < low:
            value = math.ceil(low)
        if high is not None and value > high:  # no whole number in the range
            return None if spec.get("nullable") else value
        return value
    return float(middle)


def example_row(schema: dict[str, Any]) -> dict[str, Any]:
    """A row the service accepts: midpoints of ranges, the first allowed value, null only where nothing
    else is valid."""
    return {name: _example_value(spec) for name, spec in schema["features"].items()}


def example_json(schema: dict[str, Any]) -> str:
    return json.dumps(example_row(schema))


def first_numeric_feature(schema_path: Path = Path("schema.yaml")) -> str | None:
    """The first float or int feature of schema.yaml, for examples in help texts; None if none."""
    try:
        features = (yaml.safe_load(schema_path.read_text(encoding="utf-8")) or {}).get("features") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return next(
        (n for n, s in features.items() if isinstance(s, dict) and s.get("dtype", "float") != "category"),
        None,
    )
