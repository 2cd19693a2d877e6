"""The validate stage: checks raw data against schema.yaml before anything learns from it.

Every problem names the column, the CSV lines and what to do, so a bad data drop
stops the pipeline with a message instead of a model trained on garbage.
"""

from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserError

VALIDATED_PATH = Path("data/validated/dataset.csv")
_SHOWN = 5  # line numbers quoted per problem; the count says how many there are


def _lines(mask: pd.Series) -> str:
    # Line 1 is the CSV header, so row i sits on line i + 2.
    lines = [str(i + 2) for i in mask[mask].index[:_SHOWN]]
    more = int(mask.sum()) - len(lines)
    return ", ".join(lines) + (f" and {more} more" if more > 0 else "")


def _check_column(name: str, raw: pd.Series, spec: dict[str, Any]) -> tuple[pd.Series, list[str]]:
    """Convert one column to its dtype and list what breaks its spec."""
    problems = []
    missing = raw.isna() | (raw.str.strip() == "")
    if missing.any():
        problems.append(
            f"column '{name}' has {int(missing.sum())} missing values on lines {_lines(missing)}; "
            "fill or drop those rows in the source."
        )
    if spec.get("dtype") == "category":
        allowed = [str(a) for a in spec.get("allowed", [])]
        outside = ~missing & ~raw.isin(allowed) if allowed else missing & False
        if outside.any():
            problems.append(
                f"column '{name}' has {int(outside.sum())} values other than {', '.join(allowed)} on lines "
                f"{_lines(outside)} (first: {raw[outside].iloc[0]!r}); fix the source or extend `allowed` "
                "in schema.yaml."
            )
        return raw, problems
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    not_numbers = values.isna() & ~missing
    if not_numbers.any():
        first = raw[not_numbers].iloc[0]
        problems.append(
            f"column '{name}' has {int(not_numbers.sum())} non-numeric values on lines "
            f"{_lines(not_numbers)} (first: {first!r}); it must hold numbers."
        )
    present = values.notna()
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
            problems.append(
                f"column '{name}' has {int(outside.sum())} values other than "
                f"{', '.join(map(str, allowed))} on lines {_lines(outside)} "
                f"(first: {values[outside].iloc[0]:g}); fix the source or extend `allowed` in schema.yaml."
            )
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
    return values, problems


def validate_frame(raw: pd.DataFrame, schema: dict[str, Any], min_rows: int = 1) -> pd.DataFrame:
    """Return the data with numeric dtypes, or raise UserError listing every problem."""
    target = schema["target"]
    specs = {**schema["features"], target["name"]: target}
    problems = []
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
    if problems:
        raise UserError("\n".join(problems))
    frame = pd.DataFrame(clean)
    frame[target["name"]] = frame[target["name"]].astype(
        "int64" if target.get("dtype") == "int" else "float64"
    )
    return frame


def read_raw(path: Path) -> pd.DataFrame:
    try:
        # Everything as text: type problems are reported per line, not raised by the parser.
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    except FileNotFoundError as exc:
        raise UserError(f"{path} not found; run the ingest stage first (dvc repro).") from exc
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path} is empty; the source returned no data.") from exc
    except pd.errors.ParserError as exc:
        raise UserError(f"{path} is not a well-formed CSV ({exc}); fix the source.") from exc


def validate(params: dict, schema: dict, raw_path: Path, out: Path = VALIDATED_PATH) -> Path:
    raw = read_raw(raw_path)
    try:
        frame = validate_frame(raw, schema, params["data"].get("min_rows", 1))
    except UserError as exc:
        raise UserError(f"{raw_path} failed validation:\n{exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out
