"""Drift of production data (current) against the model's training data (reference).

Each column gets the test Evidently's DataDriftPreset (0.7) picks by default, so the two
agree column by column:

  reference values  column                          test (drift when)
  <= 1000           numerical, > 5 distinct values  Kolmogorov-Smirnov (p <= 0.05)
  <= 1000           3-5 distinct values, or cat.    chi-square (p < 0.05)
  <= 1000           1-2 distinct values             Z-test of proportions (p < 0.05)
  > 1000            numerical, > 5 distinct values  Wasserstein distance / reference std (>= 0.1)
  > 1000            otherwise                       Jensen-Shannon distance (>= 0.1)

"Reference values" are the non-missing reference values of that column; distinct values are
counted over reference and current together. A column is numerical when the reference
stores floats or integers with more than 10 distinct values, categorical otherwise
(strings, booleans, integer codes); Evidently applies the same rule to the current data,
so the two differ only where the current data changes a column's type. Missing and
infinite values are left out of the tests; a column whose missing share grows by
`missing_share_increase` is reported as drifted too. Dataset drift: the share of drifted
columns is at least `drift_share`. `drift` exits 1 on dataset drift, on drifted
predictions, or on degraded performance of labelled data; 0 otherwise.

A CSV or parquet current dataset is read in batches into per-column sketches that give the same
scores and verdicts (drift_stream.py), so its size is bounded by disk, not memory; prediction logs
and labelled data (whose metrics need every row) are read whole.

params.yaml `drift:` keys (all optional; null means the default):
  reference              training data of the current model (data/processed/train.csv)
  current                the service's log (a directory, or an object-store prefix such as
                         s3://bucket/predictions) or a CSV/parquet dataset (null: the log of
                         service.monitoring_dir, or env MONITORING_DIR)
  window_days            log files of the last N days, counted back from the newest (null: all)
  model                  model whose predictions on the reference give prediction drift
                         (models/model.joblib; skipped with a note when the file is absent)
  out_dir                where drift.json, drift.md and drift.html go (reports/drift)
  min_rows               fewer current rows, or values in a column, is an error (30)
  drift_share            share of drifted columns that is dataset drift (0.5)
  large_sample_rows      reference values above which distances replace p-values (1000)
  method, num_method, cat_method, per_column_method {column: method}
                         force a test: ks, chisquare, z, wasserstein, jensenshannon, psi
  threshold, num_threshold, cat_threshold, per_column_threshold {column: value}
                         override a test's threshold (per column > per type > all)
  column_types           {column: numerical | categorical} instead of the inferred type
  missing_share_increase rise of a column's missing share that counts as drift (0.1)
  performance_tolerance  labelled data: relative loss of the primary metric that counts
                         as drift (0.1)
"""

import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .monitoring import is_url, monitoring_dir
from .params import load_schema
from .prediction_log import PREDICTION, read_log

NUM, CAT = "numerical", "categorical"


@dataclass(frozen=True)
class Method:
    name: str
    label: str  # Evidently's display name, so both reports read the same
    kinds: tuple[str, ...]
    threshold: float
    p_value: bool  # p-values drift below the threshold, distances at or above it


METHODS = {
    m.name: m
    for m in (
        Method("ks", "K-S p_value", (NUM,), 0.05, True),
        Method("chisquare", "chi-square p_value", (CAT,), 0.05, True),
        Method("z", "Z-test p_value", (CAT,), 0.05, True),
        Method("wasserstein", "Wasserstein distance (normed)", (NUM,), 0.1, False),
        Method("jensenshannon", "Jensen-Shannon distance", (NUM, CAT), 0.1, False),
        Method("psi", "PSI", (NUM, CAT), 0.1, False),
    )
}

DEFAULTS = {
    "reference": "data/processed/train.csv",
    "current": None,
    "window_days": None,
    "model": "models/model.joblib",
    "out_dir": "reports/drift",
    "min_rows": 30,
    "drift_share": 0.5,
    "large_sample_rows": 1000,
    "method": None,
    "num_method": None,
    "cat_method": None,
    "per_column_method": {},
    "threshold": None,
    "num_threshold": None,
    "cat_threshold": None,
    "per_column_threshold": {},
    "column_types": {},
    "missing_share_increase": 0.1,
    "performance_tolerance": 0.1,
}


def add_arguments(parser) -> None:
    """Options of `drift`; defaults come from params.yaml."""
    parser.add_argument("--reference", help="training data, CSV or parquet (default: drift.reference)")
    parser.add_argument(
        "--current",
        help="monitoring log directory or object-store prefix (s3://, gs://, az://), or a CSV/parquet "
        "dataset (default: drift.current)",
    )
    parser.add_argument(
        "--out-dir", help="directory of drift.json, drift.md, drift.html (default: drift.out_dir)"
    )
    parser.add_argument(
        "--labelled",
        action="store_true",
        help="current data has the target column: check model performance too",
    )
    parser.add_argument("--model", help="model for prediction drift and performance (default: drift.model)")


def settings(params: dict) -> dict:
    """The drift section of params.yaml with defaults filled in, checked before any data is read."""
    given = params.get("drift") or {}
    if not isinstance(given, dict):
        raise UserError("params.yaml `drift` must be a mapping; see the keys listed in drift.py.")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise UserError(
            f"params.yaml drift has unknown key(s) {', '.join(unknown)}; use some of: {', '.join(DEFAULTS)}."
        )
    cfg = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    for key in ("per_column_method", "per_column_threshold", "column_types"):
        if not isinstance(cfg[key], dict):
            raise UserError(f"params.yaml drift.{key} must be a mapping from column names to values.")
    for key in ("method", "num_method", "cat_method"):
        _check_method(cfg[key], f"drift.{key}")
    for column, name in cfg["per_column_method"].items():
        _check_method(name, f"drift.per_column_method.{column}")
    numbers = {k: cfg[k] for k in ("threshold", "num_threshold", "cat_threshold", "drift_share")}
    numbers.update({f"per_column_threshold.{c}": v for c, v in cfg["per_column_threshold"].items()})
    numbers.update({k: cfg[k] for k in ("missing_share_increase", "performance_tolerance")})
    for key, value in numbers.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UserError(f"params.yaml drift.{key} is {value!r}; give a number.")
    for column, kind in cfg["column_types"].items():
        if kind not in (NUM, CAT):
            raise UserError(f"params.yaml drift.column_types.{column} is {kind!r}; use {NUM} or {CAT}.")
    return cfg


def _check_method(name, where: str) -> None:
    if name is not None and name not in METHODS:
        raise UserError(f"params.yaml {where} is {name!r}; use one of {', '.join(METHODS)}.")


# ---------------------------------------------------------------- column types and tests


def infer_kind(series: pd.Series) -> str:
    """Evidently's rule: floats and many-valued integers are numerical, the rest categorical."""
    if pd.api.types.is_bool_dtype(series):
        return CAT
    if pd.api.types.is_integer_dtype(series):
        return CAT if series.nunique() <= 10 else NUM
    if pd.api.types.is_float_dtype(series):
        return NUM
    if isinstance(series.dtype, pd.CategoricalDtype):
        return CAT
    if series.nunique() > series.count() * 0.5:
        raise UserError(
            f"column {series.name!r} looks like free text ({series.nunique()} distinct values in "
            f"{series.count()} rows); drop it from the data or set drift.column_types.{series.name}: {CAT}."
        )
    return CAT


def default_method(kind: str, reference_values: int, distinct_values: int, large: int = 1000) -> str:
    """Evidently's default test for a column: by type, reference size and distinct values."""
    if reference_values <= large:
        if kind == NUM and distinct_values > 5:
            return "ks"
        return "chisquare" if distinct_values > 2 else "z"
    return "wasserstein" if kind == NUM and distinct_values > 5 else "jensenshannon"


def choose(cfg: dict, column: str, kind: str) -> tuple[str | None, float | None]:
    """Configured method and threshold of a column (None: defaults); per column > per type > all."""
    prefix = {NUM: "num", CAT: "cat"}[kind]
    method = cfg["per_column_method"].get(column) or cfg[f"{prefix}_method"] or cfg["method"]
    if method is not None and kind not in METHODS[method].kinds:
        raise UserError(
            f"drift method {method!r} does not apply to {kind} column {column!r}; "
            f"use one of {', '.join(m.name for m in METHODS.values() if kind in m.kinds)}."
        )
    for threshold in (cfg["per_column_threshold"].get(column), cfg[f"{prefix}_threshold"], cfg["threshold"]):
        if threshold is not None:
            return method, threshold
    return method, None


@dataclass
class Sample:
    """One column's non-missing values, in the forms the tests need."""

    rows: int
    missing: int
    values: np.ndarray | None = None  # numerical: finite values, sorted
    std: float = 0.0  # numerical reference: population std, taken before sorting as Evidently does
    counts: dict = field(default_factory=dict)  # value -> count; numerical only when few values

    @property
    def n(self) -> int:
        return self.rows - self.missing


def sample(series: pd.Series, kind: str, reference: bool = False) -> Sample:
    if kind == NUM:
        as_float = {} if series.dtype == "float64" else {"dtype": "float64", "na_value": np.nan}
        values = series.to_numpy(**as_float)  # float64 columns: a view, no copy
        finite = np.isfinite(values)
        if not finite.all():
            values = values[finite]
        std = float(np.std(values)) if reference and len(values) else 0.0  # unsorted: summation order matters
        return Sample(len(series), len(series) - len(values), values=np.sort(values), std=std)
    clean = series.replace([-np.inf, np.inf], np.nan) if pd.api.types.is_numeric_dtype(series) else series
    counts = clean.value_counts(dropna=True)
    counts = counts[counts > 0]
    n = int(counts.sum())
    return Sample(
        len(series), len(series) - n, counts=dict(zip(counts.index.tolist(), counts.tolist(), strict=True))
    )


def _sorted_counts(values: np.ndarray) -> dict:
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return dict(zip(values[starts].tolist(), np.diff(np.r_[starts, len(values)]).tolist(), strict=True))


def distinct(ref: Sample, cur: Sample, kind: str, upto: int = 6) -> int:
    """Distinct values of both samples together, counted exactly up to `upto`."""
    if kind == CAT:
        return len(ref.counts.keys() | cur.counts.keys())
    ref_distinct = _sorted_distinct(ref.values)
    if len(ref_distinct) >= upto:
        return len(ref_distinct)
    return len(np.union1d(ref_distinct, _sorted_distinct(cur.values)))


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _counts(s: Sample) -> dict:
    if s.values is not None and not s.counts:
        s.counts = _sorted_counts(s.values)
    return s.counts


# scipy.stats is imported where needed: it takes longer to import than large data takes to test.


def ks(ref: Sample, cur: Sample, kind: str) -> float:
    from scipy import stats

    return float(stats.ks_2samp(ref.values, cur.values).pvalue)


def chisquare(ref: Sample, cur: Sample, kind: str) -> float:
    from scipy import stats

    rc, cc = _counts(ref), _counts(cur)
    keys = list(rc.keys() | cc.keys())
    scale = cur.n / ref.n
    with np.errstate(divide="ignore", invalid="ignore"):  # a new category: expected 0, p = 0
        return float(
            stats.chisquare([cc.get(k, 0) for k in keys], [rc.get(k, 0) * scale for k in keys]).pvalue
        )


def z(ref: Sample, cur: Sample, kind: str) -> float:
    """Two-sided Z-test of the share of values other than the smallest one."""
    from scipy import stats

    rc, cc = _counts(ref), _counts(cur)
    if len(rc) == 1 and rc.keys() == cc.keys():
        return 1.0
    first = sorted(rc.keys() | cc.keys())[0]
    n1, n2 = ref.n, cur.n
    p1 = float(n1 - rc.get(first, 0)) / n1
    p2 = float(n2 - cc.get(first, 0)) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    statistic = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(statistic))))


def wasserstein(ref: Sample, cur: Sample, kind: str) -> float:
    """Wasserstein-1 distance normed by the reference std; exactly scipy's value, without its argsorts."""
    return wasserstein_sorted(ref.values, cur.values) / max(ref.std, 0.001)


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    # The integral of |F_u - F_v| over the merged sample. Only positions where the next value is
    # larger carry weight; there, the count of merged values so far gives F_v from F_u.
    merged = np.concatenate((u, v))
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    deltas = np.diff(merged)
    u_count = np.bincount(np.searchsorted(merged, u, side="right") - 1, minlength=len(merged))[:-1]
    np.cumsum(u_count, out=u_count)
    v_count = np.arange(1, len(merged))
    v_count -= u_count
    u_cdf = u_count / len(u)
    del u_count, merged
    u_cdf -= v_count / len(v)
    return float(_vecdot(np.abs(u_cdf, out=u_cdf), deltas))


def _vecdot(a: np.ndarray, b: np.ndarray) -> float:
    # the reduction scipy uses, so the sums agree to the last bit
    return np.vecdot(a, b) if hasattr(np, "vecdot") else np.sum(a * b)


def binned(ref: Sample, cur: Sample, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin as Evidently bins them: Sturges bins for many-valued numbers, else per value."""
    if kind == NUM and len(_sorted_distinct(ref.values)) > 20:
        edges = np.histogram_bin_edges(np.concatenate((ref.values, cur.values)), bins="sturges")
        return np.histogram(ref.values, edges)[0] / ref.n, np.histogram(cur.values, edges)[0] / cur.n
    return shares_by_value(_counts(ref), ref.n, _counts(cur), cur.n)


def shares_by_value(rc: dict, ref_n: int, cc: dict, cur_n: int) -> tuple[np.ndarray, np.ndarray]:
    keys = list(rc.keys() | cc.keys())
    return np.array([rc.get(k, 0) / ref_n for k in keys]), np.array([cc.get(k, 0) / cur_n for k in keys])


def jensenshannon(ref: Sample, cur: Sample, kind: str) -> float:
    return js_distance(*binned(ref, cur, kind))


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon, step for step."""
    p, q = p / np.sum(p), q / np.sum(q)
    m = (p + q) / 2.0
    left = np.array([_rel_entr(a, b) for a, b in zip(p.tolist(), m.tolist(), strict=True)])
    right = np.array([_rel_entr(a, b) for a, b in zip(q.tolist(), m.tolist(), strict=True)])
    return float(np.sqrt((np.sum(left) + np.sum(right)) / 2.0))


def _rel_entr(x: float, y: float) -> float:
    """scipy.special.rel_entr of scipy >= 1.17 for one pair: importing scipy.special takes longer."""
    if x <= 0 or y <= 0:
        return 0.0 if x == 0 and y >= 0 else math.inf
    ratio = x / y
    if 0.5 < ratio < 2:
        return x * math.log1p((x - y) / y)
    if sys.float_info.min < ratio < math.inf:
        return x * math.log(ratio)
    return x * (math.log(x) - math.log(y))


def psi(ref: Sample, cur: Sample, kind: str) -> float:
    return psi_index(*binned(ref, cur, kind))


def psi_index(p: np.ndarray, q: np.ndarray) -> float:
    for shares in (p, q):  # empty bins get a small share so the logarithm stays finite
        smallest = shares[shares != 0].min()
        np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return float(np.sum((p - q) * np.log(p / q)))


SCORES = {
    "ks": ks,
    "chisquare": chisquare,
    "z": z,
    "wasserstein": wasserstein,
    "jensenshannon": jensenshannon,
    "psi": psi,
}


def is_drift(method: str, score: float, threshold: float) -> bool:
    if method == "ks":
        return score <= threshold
    return score < threshold if METHODS[method].p_value else score >= threshold


@dataclass
class ColumnResult:
    column: str
    kind: str
    method: str
    method_label: str
    score: float
    threshold: float
    drifted: bool  # the value test alone: comparable with Evidently
    missing_reference: float
    missing_current: float
    missing_drifted: bool
    reference_values: int
    current_values: int
    histogram: dict

    @property
    def any_drift(self) -> bool:
        return self.drifted or self.missing_drifted


def compare_column(
    column: str, reference: pd.Series, current: pd.Series, kind: str, cfg: dict
) -> ColumnResult:
    ref, cur = sample(reference, kind, reference=True), sample(current, kind)
    method, threshold = test_of(cfg, column, kind, ref.n, lambda: distinct(ref, cur, kind))
    score = SCORES[method](ref, cur, kind)
    return column_result(column, kind, method, threshold, score, ref, cur, histogram(ref, cur, kind), cfg)


def test_of(cfg: dict, column: str, kind: str, reference_values: int, distinct_values) -> tuple[str, float]:
    """The column's test and threshold: configured, else Evidently's default (distinct counted lazily)."""
    method, threshold = choose(cfg, column, kind)
    method = method or default_method(kind, reference_values, distinct_values(), cfg["large_sample_rows"])
    return method, METHODS[method].threshold if threshold is None else threshold


def column_result(column, kind, method, threshold, score, ref, cur, histogram: dict, cfg) -> ColumnResult:
    """`ref` and `cur` count rows, missing and values (`rows`, `missing`, `n`)."""
    missing_ref, missing_cur = ref.missing / ref.rows, cur.missing / cur.rows
    return ColumnResult(
        column=column,
        kind=kind,
        method=method,
        method_label=METHODS[method].label,
        score=score,
        threshold=float(threshold),
        drifted=bool(is_drift(method, score, threshold)),
        missing_reference=missing_ref,
        missing_current=missing_cur,
        missing_drifted=missing_cur - missing_ref >= cfg["missing_share_increase"],
        reference_values=ref.n,
        current_values=cur.n,
        histogram=histogram,
    )


def histogram(ref: Sample, cur: Sample, kind: str, bins: int = 20, categories: int = 12) -> dict:
    """Shares of reference and current per bin (numerical) or category, for the HTML report."""
    if kind == NUM:
        edges = histogram_edges(ref, cur.values[0], cur.values[-1], bins)
        return {
            "edges": edges.tolist(),
            "reference": bin_shares(ref.values, edges),
            "current": bin_shares(cur.values, edges),
        }
    rc, cc = _counts(ref), _counts(cur)
    order = sorted(rc.keys() | cc.keys(), key=lambda k: -(rc.get(k, 0) / ref.n + cc.get(k, 0) / cur.n))
    shown, rest = order[:categories], order[categories:]
    labels = [str(k) for k in shown] + (["other"] if rest else [])

    def shares(counts, n):
        values = [counts.get(k, 0) / n for k in shown]
        return values + ([sum(counts.get(k, 0) for k in rest) / n] if rest else [])

    return {"categories": labels, "reference": shares(rc, ref.n), "current": shares(cc, cur.n)}


def histogram_edges(ref: Sample, cur_low: float, cur_high: float, bins: int = 20) -> np.ndarray:
    """The report's equal-width bins over both samples' range."""
    low, high = min(ref.values[0], cur_low), max(ref.values[-1], cur_high)
    return np.linspace(low, high, bins + 1) if high > low else np.array([low - 0.5, low + 0.5])


def bin_shares(values: np.ndarray, edges: np.ndarray) -> list:
    """Shares of sorted values per bin; the last bin is closed."""
    below = np.searchsorted(values, edges[1:-1], side="left")
    return (np.diff(np.r_[0, below, len(values)]) / len(values)).tolist()


# ---------------------------------------------------------------- checking the inputs


def check_inputs(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], allowed: set[str], cfg
) -> dict:
    """Every bad-input case in one pass, before anything is computed or written. Returns column kinds."""
    check_columns(len(reference), list(current.columns), columns, allowed)
    check_rows(len(current), cfg)
    kinds = {}
    for column in columns:
        kinds[column] = reference_kind(column, reference[column], cfg)
        check_values(column, "current", int(current[column].notna().sum()), cfg)
        numeric = pd.api.types.is_numeric_dtype
        check_dtype(column, reference[column], numeric(current[column]), str(current[column].dtype))
    return kinds


def check_columns(reference_rows: int, current_columns: list, columns: list[str], allowed: set[str]) -> None:
    if reference_rows == 0:
        raise UserError("the reference data has no rows; point drift.reference at the training data.")
    missing = [c for c in columns if c not in current_columns]
    if missing:
        raise UserError(
            f"the current data lacks column(s) {', '.join(missing)} that the model was trained on; "
            "add them, or compare against data of the same schema."
        )
    unexpected = [c for c in current_columns if c not in allowed]
    if unexpected:
        raise UserError(
            f"the current data has column(s) {', '.join(map(str, unexpected))} not in the reference data; "
            "drop or rename them to match the training data."
        )


def check_rows(current_rows: int, cfg: dict) -> None:
    if current_rows == 0:
        raise UserError(
            "the current data has no rows; collect predictions first or point --current at a dataset."
        )
    if current_rows < cfg["min_rows"]:
        raise UserError(
            f"the current data has {current_rows} rows, too few for the drift tests (drift.min_rows is "
            f"{cfg['min_rows']}); collect more data or lower drift.min_rows."
        )


def reference_kind(column: str, reference: pd.Series, cfg: dict) -> str:
    """The column's type, checked against the reference values and a configured test."""
    check_values(column, "reference", int(reference.notna().sum()), cfg)
    kind = cfg["column_types"].get(column) or infer_kind(reference)
    choose(cfg, column, kind)  # a configured test that does not fit the type
    if kind == NUM and not pd.api.types.is_numeric_dtype(reference):
        raise UserError(
            f"column {column!r} is not numeric in the reference data; set drift.column_types.{column}: {CAT}."
        )
    return kind


def check_values(column: str, name: str, values: int, cfg: dict) -> None:
    if values == 0:
        raise UserError(
            f"column {column!r} is missing in every row of the {name} data; fix the data source "
            "that fills it."
        )
    if name == "current" and values < cfg["min_rows"]:
        raise UserError(
            f"column {column!r} has {values} values in the current data, too few for the drift test "
            f"(drift.min_rows is {cfg['min_rows']}); collect more data or lower drift.min_rows."
        )


def check_dtype(column: str, reference: pd.Series, current_numeric: bool, current_type: str) -> None:
    reference_numeric = pd.api.types.is_numeric_dtype(reference)
    if reference_numeric != current_numeric:
        expected = "numbers" if reference_numeric else "text"
        raise UserError(
            f"column {column!r} holds {expected} in the reference data but {current_type} values in the "
            "current data; fix the type at the source of the current data."
        )


# ---------------------------------------------------------------- the whole comparison


def compare(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], kinds: dict, cfg: dict):
    """Per-column results, computed column-parallel: numpy's sorts release the GIL."""
    workers = min(len(columns), os.cpu_count() or 1) or 1
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: compare_column(c, reference[c], current[c], kinds[c], cfg), columns))


def dataset_verdict(results: list[ColumnResult], drift_share: float) -> dict:
    drifted = sum(r.any_drift for r in results)
    share = drifted / len(results)
    return {
        "number_of_columns": len(results),
        "number_of_drifted_columns": drifted,
        "share_of_drifted_columns": share,
        "drift_share": drift_share,
        "dataset_drift": share >= drift_share,
    }


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path} not found; check the path, or run `dvc pull` / `dvc repro` to create it.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # In chunks: the parser's buffers and the text of a column never exist for the whole file
            # at once, which halves the peak memory of a million rows.
            return pd.concat(pd.read_csv(path, chunksize=250_000), ignore_index=True)
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            # Pages streamed rather than whole column chunks buffered, and columns handed over to
            # pandas without a second copy: about half the peak memory of pd.read_parquet.
            table = pq.read_table(path, pre_buffer=False, buffer_size=1 << 20)
            return table.to_pandas(self_destruct=True, split_blocks=True)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path} could not be read ({reason}); check that it is a valid {suffix[1:]} file."
        ) from exc
    raise UserError(
        f"{path} is neither .csv nor .parquet; give a dataset of one of those or a log directory."
    )


def read_current(location: Path | str, cfg: dict) -> tuple[pd.DataFrame, dict]:
    if is_url(location):  # an object-store prefix of prediction logs
        return _read_log(location, cfg)
    path = Path(location)
    if not path.exists() and not path.suffix:
        raise UserError(
            f"no monitoring log at {path}/; let the service log predictions there, or pass --current "
            "with a CSV or parquet dataset."
        )
    if path.is_dir():
        return _read_log(path, cfg)
    return read_table(path), {}


def _read_log(location: Path | str, cfg: dict) -> tuple[pd.DataFrame, dict]:
    frame, meta = read_log(location, cfg["window_days"])
    if not meta["files"]:
        raise UserError(
            f"{location} has no predictions-*.jsonl files; let the service log predictions, or pass "
            "--current with a CSV or parquet dataset."
        )
    return frame, meta


def _load_model(path: str | None, cfg: dict):
    """The model, or None when only the default path was configured and it is absent."""
    explicit = path is not None
    path = Path(path or cfg["model"])
    if not path.is_file():
        if explicit:
            raise UserError(f"model {path} not found; run `dvc pull` or `dvc repro`, or pass --model.")
        return None
    import joblib

    return joblib.load(path)


def _predict(model, frame: pd.DataFrame) -> pd.Series:
    names = list(getattr(model, "feature_names_in_", frame.columns))
    try:
        return pd.Series(model.predict(frame[names]), name=PREDICTION)
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(
            f"the model could not predict on the data ({exc}); is it the model of this data?"
        ) from exc


def prediction_drift(model, reference: pd.DataFrame, current: pd.DataFrame, cfg: dict) -> ColumnResult:
    """The model's outputs on the reference against those logged (or, for a dataset, made) on current."""
    ref = _predict(model, reference).to_frame()
    cur = current[[PREDICTION]] if PREDICTION in current else _predict(model, current).to_frame()
    kind = check_inputs(ref, cur, [PREDICTION], {PREDICTION}, cfg)[PREDICTION]
    return compare_column(PREDICTION, ref[PREDICTION], cur[PREDICTION], kind, cfg)


def performance(params: dict, model, current: pd.DataFrame, target: str, tolerance: float) -> dict:
    """The primary metric on labelled current data against the one in metrics.json."""
    from .metrics import METRICS_PATH, compute_metrics, improvement
    from .params import positive_class

    if not METRICS_PATH.is_file():
        raise UserError(
            f"{METRICS_PATH} not found; run `dvc repro` or `dvc pull` to get the model's metrics."
        )
    metric = params["evaluate"]["primary_metric"]
    baseline = json.loads(METRICS_PATH.read_text()).get(metric)
    if baseline is None:
        raise UserError(f"{METRICS_PATH} has no {metric}; run `dvc repro` so evaluate writes it.")
    labelled = current[current[target].notna()]
    names = list(
        getattr(model, "feature_names_in_", [c for c in labelled.columns if c not in (target, PREDICTION)])
    )
    try:
        positive = positive_class(params, load_schema()) if params["task"] == "classification" else None
        value = compute_metrics(params["task"], model, labelled[names], labelled[target], positive)[metric]
    except ValueError as exc:
        raise UserError(
            f"{metric} cannot be computed on the current labels ({exc}); give more varied data."
        ) from exc
    return {
        "metric": metric,
        "reference": baseline,
        "current": value,
        "tolerance": tolerance,
        "degraded": improvement(metric, value, baseline) < -tolerance * abs(baseline),
    }


def run(
    params: dict,
    reference: str | None,
    current: str | None,
    out_dir: str | None,
    labelled: bool,
    model_path: str | None,
) -> int:
    """The `drift` command. Returns the exit code: 0 no drift, 1 drift (bad input raises UserError)."""
    cfg = settings(params)
    target = load_schema()["target"]["name"]  # the column the model predicts: not a feature
    ref_path = Path(reference or cfg["reference"])
    cur_path = current or cfg["current"] or monitoring_dir(params)
    cur_path = cur_path if is_url(cur_path) else Path(cur_path)
    ref_frame = read_table(ref_path)  # the training data: held whole, as each test needs it exactly
    columns = [c for c in ref_frame.columns if c not in (target, PREDICTION)]
    if not labelled:
        from .drift_stream import streamable

        if streamable(cur_path):  # a dataset, of any size: read in batches
            return _report_streamed(ref_frame, ref_path, cur_path, columns, target, model_path, cfg, out_dir)
    cur_frame, meta = read_current(cur_path, cfg)
    if labelled and target not in cur_frame.columns:
        raise UserError(
            f"--labelled needs the target column {target!r} in the current data; add it or drop --labelled."
        )
    kinds = check_inputs(ref_frame, cur_frame, columns, {*columns, target, PREDICTION}, cfg)
    model = _load_model(model_path, cfg)
    if labelled and model is None:
        raise UserError(
            f"--labelled needs the model; {cfg['model']} not found: run `dvc pull` or pass --model."
        )
    perf = performance(params, model, cur_frame, target, cfg["performance_tolerance"]) if labelled else None
    prediction = prediction_drift(model, ref_frame, cur_frame, cfg) if model is not None else None
    notes = [] if model is not None else [f"prediction drift not computed: no model at {cfg['model']}."]
    if skipped := meta.get("skipped_lines", {}).get("count"):
        examples = meta["skipped_lines"]["examples"]
        named = ("first: " if skipped > len(examples) else "") + "; ".join(examples)
        notes.append(f"{skipped} unreadable log line{'s' * (skipped > 1)} skipped ({named}).")

    results = compare(ref_frame, cur_frame, columns, kinds, cfg)
    current_info = {"path": str(cur_path), "rows": len(cur_frame), **meta}
    return _report(results, prediction, perf, notes, ref_path, len(ref_frame), current_info, cfg, out_dir)


def _report_streamed(ref_frame, ref_path, cur_path, columns, target, model_path, cfg, out_dir) -> int:
    from .drift_stream import compare_file

    model = _load_model(model_path, cfg)
    results, prediction, rows = compare_file(ref_frame, cur_path, columns, target, cfg, model)
    notes = [] if model is not None else [f"prediction drift not computed: no model at {cfg['model']}."]
    current_info = {"path": str(cur_path), "rows": rows}
    return _report(results, prediction, None, notes, ref_path, len(ref_frame), current_info, cfg, out_dir)


def _report(results, prediction, perf, notes, ref_path, ref_rows, current_info, cfg, out_dir) -> int:
    """Write drift.json, drift.md and drift.html; the exit code."""
    from . import drift_report

    verdict = dataset_verdict(results, cfg["drift_share"])
    drifted = (
        verdict["dataset_drift"]
        or bool(prediction and prediction.any_drift)
        or bool(perf and perf["degraded"])
    )
    report = {
        "drift_detected": drifted,
        **verdict,
        "reference": {"path": str(ref_path), "rows": ref_rows},
        "current": current_info,
        "columns": [asdict(r) for r in results],
        "prediction": asdict(prediction) if prediction else None,
        "performance": perf,
        "notes": notes,
    }
    paths = drift_report.write(report, Path(out_dir or cfg["out_dir"]))
    print(drift_report.verdict_line(report))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 1 if drifted else 0
