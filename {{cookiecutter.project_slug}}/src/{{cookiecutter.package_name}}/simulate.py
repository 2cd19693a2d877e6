"""Simulated production data: the held-out data resampled, optionally shifted, for trying `drift`.

A shift is COLUMN:KIND=VALUE, applied in the order given:
  bmi:mean=0.5      add 0.5 standard deviations (of the column in the source data)
  bmi:scale=2       stretch the spread around the mean by 2
  sex:mix=0.9       the most frequent value takes 90% of the rows; the others share the rest
                    in their original proportions
  age:missing=0.3   blank 30% of the rows
The same seed gives the same rows.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .schema_tools import first_numeric_feature

SOURCE = Path("data/processed/test.csv")
KINDS = ("mean", "scale", "mix", "missing")


def add_arguments(parser) -> None:
    """Options of `simulate`."""
    parser.add_argument("--source", default=str(SOURCE), help="data to resample (default: %(default)s)")
    parser.add_argument(
        "--out",
        default="data/simulated/current.csv",
        help="CSV or parquet file to write (default: %(default)s)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        help="rows to draw (default: as many as the source has; more repeat rows, which tests read as drift)",
    )
    parser.add_argument(
        "--shift",
        action="append",
        default=[],
        metavar="COLUMN:KIND=VALUE",
        help="mean=SDS, scale=FACTOR, mix=SHARE or missing=SHARE on a column; repeatable "
        f"(e.g. {first_numeric_feature() or 'COLUMN'}:mean=0.5, a column of schema.yaml)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


@dataclass(frozen=True)
class Shift:
    column: str
    kind: str
    value: float


def parse_shift(text: str) -> Shift:
    column, _, rest = text.partition(":")
    kind, _, value = rest.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = None
    if not column or kind not in KINDS or number is None or not np.isfinite(number):
        raise UserError(
            f"--shift {text!r} is not COLUMN:KIND=NUMBER with KIND one of {', '.join(KINDS)}; "
            f"e.g. {first_numeric_feature() or 'COLUMN'}:mean=0.5."
        )
    if kind in ("mix", "missing") and not 0 <= number <= 1:
        raise UserError(f"--shift {text!r}: {kind} is a share of rows; give a number from 0 to 1.")
    return Shift(column, kind, number)


def shifted(frame: pd.DataFrame, source: pd.DataFrame, shift: Shift, rng: np.random.Generator) -> pd.Series:
    """The column after one shift; statistics come from the unshifted source."""
    column, base = frame[shift.column], source[shift.column]
    numeric = pd.api.types.is_numeric_dtype(base)
    if shift.kind in ("mean", "scale") and not numeric:
        raise UserError(
            f"--shift {shift.column}:{shift.kind} needs a numeric column; use mix= for categories."
        )
    if shift.kind == "mean":
        return column + shift.value * base.std()
    if shift.kind == "scale":
        return base.mean() + (column - base.mean()) * shift.value
    if shift.kind == "missing":
        blank = rng.random(len(column)) < shift.value
        return column.astype("float64" if numeric else "object").mask(blank)
    counts = base.value_counts()
    if len(counts) < 2:
        raise UserError(f"--shift {shift.column}:mix needs a column with at least two values.")
    top, others = counts.index[0], counts.iloc[1:]
    drawn = rng.choice(others.index.to_numpy(), size=len(column), p=(others / others.sum()).to_numpy())
    result = pd.Series(np.where(rng.random(len(column)) < shift.value, top, drawn), index=column.index)
    return result.astype(base.dtype)


def simulate(source: pd.DataFrame, rows: int, shifts: list[Shift], seed: int) -> pd.DataFrame:
    unknown = sorted({s.column for s in shifts} - set(source.columns))
    if unknown:
        raise UserError(
            f"--shift names column(s) {', '.join(unknown)} not in the data; "
            f"use some of: {', '.join(map(str, source.columns))}."
        )
    rng = np.random.default_rng(seed)
    # Without replacement while the source has enough rows: repeated rows alone look like drift.
    picked = rng.choice(len(source), size=rows, replace=rows > len(source))
    frame = source.iloc[picked].reset_index(drop=True)
    for shift in shifts:
        frame[shift.column] = shifted(frame, source, shift, rng)
    return frame


def run(
    params: dict, out: str, rows: int | None, shifts: list[str], seed: int, source: str | None = None
) -> None:
    """The `simulate` command: writes `out` (CSV or parquet, by its suffix)."""
    parsed = [parse_shift(s) for s in shifts]
    if rows is not None and rows < 1:
        raise UserError(f"--rows is {rows}; give a positive number of rows.")
    path, out_path = Path(source or SOURCE), Path(out)
    if out_path.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(f"--out {out} must end in .csv or .parquet.")
    if not path.is_file():
        raise UserError(f"{path} not found; run `dvc repro` (or `dvc pull`) to create the held-out data.")
    data = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if data.empty:
        raise UserError(f"{path} has no rows; run `dvc repro` to rebuild it.")
    rows = len(data) if rows is None else rows
    frame = simulate(data, rows, parsed, seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() == ".parquet":
        frame.to_parquet(out_path, index=False)
    else:
        frame.to_csv(out_path, index=False)
    print(f"wrote {out_path} ({rows} rows from {path}{', shifted ' + ', '.join(shifts) if shifts else ''})")
