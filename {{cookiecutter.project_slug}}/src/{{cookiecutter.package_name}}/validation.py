"""The validate stage: checks raw data against schema.yaml before anything learns from it.

Every problem names the column, the CSV lines and what to do, so a bad data drop
stops the pipeline with a message instead of a model trained on garbage.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import replacing
from .errors import UserError

VALIDATED_PATH = Path("data/validated/dataset.csv")
_SHOWN = 5  # line numbers quoted per problem; the count says how many there are


def _lines(mask: pd.Series) -> str:
    # Line 1 is the CSV header, so row i sits on line i + 2.
    lines = [str(i + 2) for i in mask[mask].index[:_SHOWN]]
    more = int(mask.sum()) - len(lines)
    return ", ".join(lines) + (f" and {more} more" if more > 0 else "")


def _outside_allowed(name: str, spec: dict[str, Any], outside: pd.Series, first: str) -> str:
    allowed = ", ".join(map(str, spec["allowed"]))
    if spec.get("role") == "target":
        return (
            f"the target '{name}' has {int(outside.sum())} rows of a class not in schema.yaml ({allowed}) "
            f"on lines {_lines(outside)} (first: {first!r}); add the class to the target's `allowed` "
            "or fix the source."
        )
    return (
        f"column '{name}' has {int(outside.sum())} values other than {allowed} on lines {_lines(outside)} "
        f"(first: {first!r}); fix the source, extend `allowed` in schema.yaml"
        + (", or set `allow_unknown: true` for it." if spec.get("dtype") == "category" else ".")
    )


def _check_column(name: str, raw: pd.Series, spec: dict[str, Any]) -> tuple[pd.Series, list[str]]:
    """Convert one column to its dtype and list what breaks its spec."""
    problems = []
    missing = raw.isna() | (raw.str.strip() == "")
    if missing.any() and not spec.get("nullable"):
        problems.append(
            f"column '{name}' has {int(missing.sum())} missing values on lines {_lines(missing)}; "
            "fill or drop those rows in the source, or set `nullable: true` for it in schema.yaml."
        )
    if spec.get("dtype") == "category":
        allowed = [str(a) for a in spec.get("allowed") or []]
        outside = ~missing & ~raw.isin(allowed)
        if allowed and not spec.get("allow_unknown") and outside.any():
            problems.append(_outside_allowed(name, spec, outside, raw[outside].iloc[0]))
        return raw.astype(object).where(~missing, None), problems
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    not_numbers = values.isna() & ~missing
    if not_numbers.any():
        first = raw[not_numbers].iloc[0]
        problems.append(
            f"column '{name}' has {int(not_numbers.sum())} non-numeric values on lines "
            f"{_lines(not_numbers)} (first: {first!r}); it must hold numbers."
        )
    infinite = values.isin([np.inf, -np.inf])
    if infinite.any():
        problems.append(
            f"column '{name}' has {int(infinite.sum())} infinite values on lines {_lines(infinite)} "
            f"(first: {raw[infinite].iloc[0]!r}); replace them with numbers"
            + (" or empty cells." if spec.get("nullable") else ".")
        )
    present = values.notna() & ~infinite
    if spec.get("dtype") == "int":
        fractional = present & (values != values.round())
        if fractional.any():
            problems.append(
                f"column '{name}' has {int(fractional.sum())} non-integer values on lines "
                f"{_lines(fractional)}; it must hold whole numbers."
            )
    if "allowed" in spec:
        allowed = spec["allowed"]
        outside = present & ~values.isin(allowed)
        if outside.any():
            problems.append(_outside_allowed(name, spec, outside, f"{values[outside].iloc[0]:g}"))
    low, high = spec.get("min"), spec.get("max")
    if low is not None or high is not None:
        outside = present & (
            (values < low if low is not None else False) | (values > high if high is not None else False)
        )
        if outside.any():
            problems.append(
                f"column '{name}' has {int(outside.sum())} values outside [{low}, {high}] on lines "
                f"{_lines(outside)} (first: {values[outside].iloc[0]:g}); "
                "fix the source or widen the range in schema.yaml."
            )
    whole = spec.get("dtype") == "int" and not values.isna().any()
    return values.astype("int64" if whole and not problems else "float64"), problems


def _check_classes(name: str, target: pd.Series) -> list[str]:
    """A classifier needs two classes or more, each with two rows or more (one for each split)."""
    counts = target.dropna().value_counts()
    if len(counts) < 2:
        only = f"only class {counts.index[0]!r}" if len(counts) else "no class"
        return [
            f"the target '{name}' has {only}; a classifier needs at least two: check the source, "
            "or set `task: regression` in params.yaml if the target is a quantity."
        ]
    rare = counts[counts < 2]
    if len(rare):
        return [
            f"the target '{name}' has a single row of class {', '.join(map(repr, rare.index))}; "
            "each class needs two rows or more to appear in both the training and the test split."
        ]
    return []


def validate_frame(
    raw: pd.DataFrame, schema: dict[str, Any], min_rows: int = 1, task: str | None = None
) -> pd.DataFrame:
    """Return the data with its schema's dtypes, or raise UserError listing every problem."""
    target = schema["target"]
    specs = {**schema["features"], target["name"]: {**target, "role": "target", "nullable": False}}
    problems = []
    if task == "classification" and not target.get("allowed"):
        problems.append(
            f"schema.yaml's target '{target['name']}' lists no classes; add `allowed: [...]` with them "
            "(`schema infer` writes it)."
        )
    absent = [c for c in specs if c not in raw.columns]
    if absent:
        problems.append(
            f"columns {', '.join(map(repr, absent))} are missing; the source must provide every column "
            "of schema.yaml."
        )
    extra = [c for c in raw.columns if c not in specs]
    if extra:
        problems.append(
            f"columns {', '.join(map(repr, extra))} are not in schema.yaml; "
            "add them there or drop them in ingest."
        )
    if len(raw) < min_rows:
        problems.append(
            f"the data has {len(raw)} rows, fewer than data.min_rows ({min_rows}); check the source."
        )
    clean = {}
    for name, spec in specs.items():
        if name in raw.columns:
            clean[name], column_problems = _check_column(name, raw[name].astype("string"), spec)
            problems.extend(column_problems)
    if task == "classification" and target["name"] in clean and not problems:
        problems.extend(_check_classes(target["name"], clean[target["name"]]))
    if problems:
        raise UserError("\n".join(problems))
    frame = pd.DataFrame(clean)
    if target.get("dtype") in ("int", "float"):
        frame[target["name"]] = frame[target["name"]].astype(
            "int64" if target["dtype"] == "int" else "float64"
        )
    return frame


def _not_utf8(path: Path) -> UserError:
    """Where the first byte that is not UTF-8 sits, as an editor counts lines and columns."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, line_start = data.count(b"\n", 0, exc.start) + 1, data.rfind(b"\n", 0, exc.start) + 1
        return UserError(
            f"{path} is not UTF-8: byte 0x{data[exc.start]:02x} on line {line}, "
            f"column {exc.start - line_start + 1}, cannot be decoded; save the file as UTF-8 "
            "(for example `iconv -f latin1 -t utf-8`)."
        )
    return UserError(f"{path} could not be decoded as UTF-8; save the file as UTF-8.")


def read_raw(path: Path) -> pd.DataFrame:
    try:
        # Everything as text: type problems are reported per line, not raised by the parser.
        return pd.read_csv(path, dtype=str, keep_default_na=True, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path) from exc
    except FileNotFoundError as exc:
        raise UserError(f"{path} not found; run the ingest stage first (dvc repro).") from exc
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path} is empty; the source returned no data.") from exc
    except pd.errors.ParserError as exc:
        raise UserError(f"{path} is not a well-formed CSV ({exc}); fix the source.") from exc


def validate(params: dict, schema: dict, raw_path: Path, out: Path = VALIDATED_PATH) -> Path:
    raw = read_raw(raw_path)
    try:
        frame = validate_frame(raw, schema, params["data"].get("min_rows", 1), params.get("task"))
    except UserError as exc:
        raise UserError(f"{raw_path} failed validation:\n{exc}") from exc
    with replacing(out) as temporary:
        frame.to_csv(temporary, index=False)
    return out
