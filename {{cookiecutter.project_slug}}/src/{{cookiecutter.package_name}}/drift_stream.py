"""The drift check of a CSV or parquet dataset of any size: read in batches into per-column sketches.

The reference (the training data) is held exactly, as the in-memory check holds it; the current
data only passes through, each batch folded into a sketch per column whose size does not grow
with the rows:

  categorical  counts per value, as the in-memory check counts them.
  numerical    counts against the reference's distinct values: rows equal to each, rows in each
               gap between two, and their summed distance to the gap's end; plus value counts
               while a column has few values off the reference's, and the values themselves
               while there are few enough for scipy's exact Kolmogorov-Smirnov distribution.

That is what each test needs, so the scores are the in-memory ones (to rounding) and the verdicts
the same:
  Kolmogorov-Smirnov  the CDFs differ most at a data point; between two reference values the
                      reference CDF is flat and the current one climbs, so only each gap's ends count.
  Wasserstein         the area between the CDFs over a gap they do not cross is a rectangle minus
                      the current CDF's area, which the count and summed distance give; a second
                      pass collects the current values of the gaps where they cross (a few).
  chi-square, Z, and Jensen-Shannon / PSI per value  the value counts.
  Jensen-Shannon / PSI over Sturges bins, and the report's histogram: bins fixed by the range and
                      size, known after the first pass; counted in the second.
Past FEW values off the reference's, a column's new values share one bin in the per-value
Jensen-Shannon (the same distance) and PSI (a column whose reference has at most 20 values and
whose current data has thousands more: a changed type rather than drift).
"""

import csv
import math
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Full, Queue
from threading import Event, Thread

import numpy as np
import pandas as pd
import pyarrow as pa

from . import drift
from .drift import CAT, NUM, Sample
from .errors import UserError
from .prediction_log import PREDICTION

BATCH_ROWS = 1 << 19  # parquet rows per batch
CSV_BLOCK_BYTES = 16 << 20  # CSV bytes per batch
KS_EXACT = 10_000  # scipy's ks_2samp is exact up to this many values per sample, asymptotic above
FEW = 10_000  # values off the reference's counted one by one per column
THREADS = 0  # columns folded at once (0: up to 4)
SUFFIXES = (".csv", ".parquet", ".pq")


def streamable(location) -> bool:
    return isinstance(location, Path) and location.suffix.lower() in SUFFIXES and location.is_file()


# ---------------------------------------------------------------- reading in batches


def csv_types(reference: pd.DataFrame) -> dict:
    """CSV columns read as the reference holds them: type inference on a first block cannot fail later."""
    types = {}
    for column, dtype in reference.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            types[column] = pa.bool_()
        elif pd.api.types.is_numeric_dtype(dtype):
            types[column] = pa.float64()
        else:
            types[column] = pa.string()
    return types


def open_batches(path: Path, types: dict, columns: list[str] | None):
    """(column names and types, an iterator of record batches)."""
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pv

        reader = pv.open_csv(
            path,
            read_options=pv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pv.ConvertOptions(
                column_types=types, strings_can_be_null=True, include_columns=columns
            ),
        )
        return reader.schema, reader
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    return source.schema_arrow, source.iter_batches(BATCH_ROWS, columns=columns)


def batches(path: Path, reference: pd.DataFrame, columns: list[str] | None = None):
    """The file's schema, then its record batches (of `columns` only, if given), read ahead in a
    thread of their own; a file that cannot be read raises one UserError, whenever it shows."""
    stream = _batches(path, reference, columns)
    yield next(stream)
    yield from read_ahead(stream)


def read_ahead(items, depth: int = 1):
    """Items made in a thread while the caller works on the last ones: pyarrow reads without the GIL."""
    queue, stop, end = Queue(depth), Event(), object()

    def put(item) -> bool:
        while not stop.is_set():  # the caller may stop early: then nothing more is read
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                pass
        return False

    def produce():
        try:
            for item in items:
                if not put(item):
                    return
            put(end)
        except BaseException as exc:  # handed over to the caller, raised there
            put(exc)

    thread = Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _batches(path: Path, reference: pd.DataFrame, columns: list[str] | None):
    try:
        schema, reader = open_batches(path, csv_types(reference), columns)
        yield schema
        yield from reader
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        if found := re.search(r"CSV column #(\d+).*conversion error to (\w+)", str(exc)):
            with open(path, newline="", encoding="utf-8", errors="replace") as text:
                column = next(csv.reader(text))[int(found[1])]
            drift.check_dtype(column, reference[column], found[2] == "bool", "text")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path} could not be read ({reason}); check that it is a valid {path.suffix[1:]} file."
        ) from exc


def is_numeric(dtype: pa.DataType) -> bool:
    types = pa.types
    return (
        types.is_integer(dtype)
        or types.is_floating(dtype)
        or types.is_decimal(dtype)
        or types.is_boolean(dtype)
    )


def as_floats(array) -> np.ndarray:
    values = array.to_numpy(zero_copy_only=False) if isinstance(array, pa.Array | pa.ChunkedArray) else array
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------- sketches


class Categorical:
    """Counts per value."""

    def __init__(self):
        self.rows = self.missing = 0
        self.counts = Counter()

    @property
    def n(self) -> int:
        return self.rows - self.missing

    def add(self, array) -> None:
        if isinstance(array, np.ndarray) or is_numeric(array.type):
            values = array if isinstance(array, np.ndarray) else array.to_numpy(zero_copy_only=False)
            counts = drift.sample(pd.Series(values), CAT).counts
        else:
            import pyarrow.compute as pc

            pairs = pc.value_counts(array).to_pylist()
            counts = {p["values"]: p["counts"] for p in pairs if p["values"] is not None}
        self.counts.update(counts)
        self.rows += len(array)
        self.missing += len(array) - sum(counts.values())

    def sample(self) -> Sample:
        return Sample(self.rows, self.missing, counts=dict(self.counts))


class Numeric:
    """Current values counted against the reference's distinct values (the grid).

    Gap j holds the values between grid[j-1] and grid[j]; gap 0 those below the grid, gap m
    those above. `offset` sums each gap's distances to its grid end (gap 0: to grid[0])."""

    def __init__(self, ref: Sample):
        self.ref = ref
        self.grid = drift._sorted_distinct(ref.values)
        m = len(self.grid)
        self.equal, self.gap = np.zeros(m, np.int64), np.zeros(m + 1, np.int64)
        self.offset = np.zeros(m + 1)
        self.rows = self.missing = 0
        self.low, self.high = math.inf, -math.inf
        self.raw: list | None = []  # the values, while few enough for the exact KS distribution
        self.new: Counter | None = Counter()  # values off the grid, while few
        self.second_pass = None  # what the second pass counts, set by plan()

    @property
    def n(self) -> int:
        return self.rows - self.missing

    def add(self, array) -> None:
        values = as_floats(array)
        rows = len(values)
        finite = np.isfinite(values)
        if not finite.all():
            values = values[finite]
        self.rows += rows
        self.missing += rows - len(values)
        if len(values):
            self._fold(values)

    def _fold(self, v: np.ndarray) -> None:
        self.low, self.high = min(self.low, float(v.min())), max(self.high, float(v.max()))
        if self.raw is not None:
            self.raw.append(v.copy())
            if self.n > KS_EXACT:
                self.raw = None
        # Sorted first: locating the grid in sorted values is several times faster than searching
        # the grid for each unsorted value (cache misses), sort included.
        v = np.sort(v)
        grid, n = self.grid, len(v)
        first = np.searchsorted(v, grid, side="left")
        after = first.copy()
        hit = v[np.minimum(first, n - 1)] == grid  # grid values that occur: most do not in continuous data
        if hit.any():
            after[hit] = np.searchsorted(v, grid[hit], side="right")
            on = np.cumsum(np.bincount(first, minlength=n + 1) - np.bincount(after, minlength=n + 1))[:n] > 0
            self.equal += after - first
        sizes = np.r_[first[0], first[1:] - after[:-1], n - after[-1]]  # values per gap
        self.gap += sizes
        if hit.any():
            v = v[~on]
        distance = np.abs(v - np.repeat(np.r_[grid[0], grid], sizes))  # to each value's gap end
        filled = sizes > 0
        self.offset[filled] += np.add.reduceat(distance, np.r_[0, np.cumsum(sizes)[:-1]][filled])
        if self.new is not None and len(v):
            starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])  # v is sorted
            values, counts = v[starts], np.diff(np.r_[starts, len(v)])
            if len(values) > FEW:
                self.new = None
            else:
                self.new.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
                if len(self.new) > FEW:
                    self.new = None

    def counts(self) -> dict:
        """Value counts; past FEW new values, the new values as one (NaN, a key no value has)."""
        grid = {v: c for v, c in zip(self.grid.tolist(), self.equal.tolist(), strict=True) if c}
        if self.new is None:
            return {**grid, math.nan: int(self.gap.sum())}
        return {**grid, **self.new}

    def sample(self) -> Sample:
        return Sample(self.rows, self.missing, counts=self.counts())

    def distinct(self, upto: int = 6) -> int:
        """As drift.distinct: exact up to `upto`."""
        if len(self.grid) >= upto:
            return len(self.grid)
        if self.new is None:
            return upto
        return len(set(self.grid.tolist()) | set(self.new))

    # ------------------------------------------------------------ tests

    def _cumulative(self):
        """Reference and current values up to each grid value."""
        ref_le = np.searchsorted(self.ref.values, self.grid, side="right")
        return ref_le, np.cumsum(self.gap[:-1] + self.equal)

    def ks(self) -> float:
        from scipy import stats

        if self.raw is not None:
            return float(stats.ks_2samp(self.ref.values, np.concatenate(self.raw)).pvalue)
        n1, n2 = self.ref.n, self.n
        ref_le, cur_le = self._cumulative()
        at_grid = ref_le / n1 - cur_le / n2
        # the last current value of each gap: the reference CDF of the gap's start, the current one highest
        in_gaps = (np.r_[0, ref_le] / n1 - (np.r_[0, cur_le] + self.gap) / n2)[self.gap > 0]
        diffs = np.concatenate((at_grid, in_gaps))
        max_s, min_s = diffs.max(), np.clip(-diffs.min(), 0, 1)
        d = min_s if min_s > max_s else max_s
        m, n = sorted([float(n1), float(n2)], reverse=True)  # scipy's asymptotic p-value
        return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))

    def _gaps(self):
        """Per inner gap: width, reference CDF, current CDF at its start and end, and whether they cross."""
        ref_le, cur_le = self._cumulative()
        n2 = self.n
        width = np.diff(self.grid)
        ref_cdf = ref_le[:-1] / self.ref.n
        start = cur_le[:-1] / n2
        end = (cur_le[:-1] + self.gap[1:-1]) / n2
        cross = (start < ref_cdf) & (end > ref_cdf)
        return width, ref_cdf, start, end, cross, cur_le

    def wasserstein(self) -> float:
        n2 = self.n
        width, ref_cdf, start, end, cross, cur_le = self._gaps()
        offset = self.offset[1:-1] / n2
        area = np.where(start >= ref_cdf, (end - ref_cdf) * width - offset, (ref_cdf - end) * width + offset)
        values = np.sort(np.concatenate(self.second_pass["inside"] or [np.empty(0)]))
        for index in np.flatnonzero(cross):
            low, high = self.grid[index], self.grid[index + 1]
            inside = values[np.searchsorted(values, low, side="right") : np.searchsorted(values, high)]
            pieces = np.diff(np.r_[self.grid[index], inside, self.grid[index + 1]])
            cdf = (cur_le[index] + np.arange(len(inside) + 1)) / n2
            area[index] = np.sum(np.abs(ref_cdf[index] - cdf) * pieces)
        total = np.sum(area) + (self.offset[0] + self.offset[-1]) / n2
        return float(total) / max(self.ref.std, 0.001)

    def binned(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.grid) > 20:
            edges = self.second_pass["sturges_edges"]
            return np.histogram(self.ref.values, edges)[0] / self.ref.n, self.second_pass["sturges"] / self.n
        return drift.shares_by_value(drift._counts(self.ref), self.ref.n, self.counts(), self.n)

    def score(self, method: str) -> float:
        if method in ("chisquare", "z"):
            return drift.SCORES[method](self.ref, self.sample(), NUM)
        if method == "jensenshannon":
            return drift.js_distance(*self.binned())
        if method == "psi":
            return drift.psi_index(*self.binned())
        return self.ks() if method == "ks" else self.wasserstein()

    # ------------------------------------------------------------ the second pass

    def plan(self, method: str) -> None:
        """What the second pass counts: the report's bins, Sturges bins, values of crossing gaps."""
        edges = drift.histogram_edges(self.ref, self.low, self.high)
        plan = {"edges": edges, "bins": np.zeros(len(edges) - 1, np.int64), "inside": []}
        if method in ("jensenshannon", "psi") and len(self.grid) > 20:
            plan["sturges_edges"] = sturges_edges(self.ref.values, self.low, self.high, self.ref.n + self.n)
            plan["sturges"] = np.zeros(len(plan["sturges_edges"]) - 1, np.int64)
        if method == "wasserstein" and (crossing := np.flatnonzero(self._gaps()[4]) + 1).size:
            plan["crossing"] = crossing  # gap numbers (1 to m-1) where the two CDFs cross
            # Equal-width fine bins over the grid flag the values that may lie in one: a few percent,
            # found without sorting them all. Rounding is monotone, so no value is missed.
            fine = 4 * len(self.grid)
            scale = fine / (self.grid[-1] - self.grid[0])
            first, last = (self._fine(self.grid[crossing - d], scale, fine) for d in (1, 0))
            plan["fine"] = scale, fine
            plan["flagged"] = (
                np.cumsum(np.bincount(first, minlength=fine + 2) - np.bincount(last + 1, minlength=fine + 2))
                > 0
            )
        self.second_pass = plan

    def _fine(self, values: np.ndarray, scale: float, fine: int) -> np.ndarray:
        return np.clip((values - self.grid[0]) * scale, 0, fine).astype(np.intp)

    def add_again(self, array) -> None:
        plan, values = self.second_pass, as_floats(array)
        values = values[np.isfinite(values)]
        edges = plan["edges"]  # equal widths: np.histogram bins them by arithmetic, as the linspace edges
        plan["bins"] += np.histogram(values, len(edges) - 1, (edges[0], edges[-1]))[0]
        if "sturges" in plan:
            edges = plan["sturges_edges"]
            plan["sturges"] += np.histogram(values, len(edges) - 1, (edges[0], edges[-1]))[0]
        if "crossing" in plan:  # the values strictly inside each crossing gap
            gaps = plan["crossing"]
            values = np.sort(values[plan["flagged"][self._fine(values, *plan["fine"])]])
            starts = np.searchsorted(values, self.grid[gaps - 1], side="right")
            lengths = np.searchsorted(values, self.grid[gaps], side="left") - starts
            at = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
            plan["inside"].append(values[at])

    def histogram(self) -> dict:
        plan = self.second_pass
        ref = self.ref
        return {
            "edges": plan["edges"].tolist(),
            "reference": drift.bin_shares(ref.values, plan["edges"]),
            "current": (plan["bins"] / self.n).tolist(),
        }


def sturges_edges(reference: np.ndarray, low: float, high: float, size: int) -> np.ndarray:
    """np.histogram_bin_edges(reference and current, "sturges"), from their range and size."""
    first, last = min(float(reference[0]), low), max(float(reference[-1]), high)
    width = (last - first) / (np.log2(size) + 1.0)
    if first == last:
        first, last = first - 0.5, last + 0.5
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True)


# ---------------------------------------------------------------- the whole comparison


def compare_file(reference: pd.DataFrame, path: Path, columns: list[str], target: str, cfg: dict, model):
    """(column results, prediction result or None, current rows): drift.check_inputs, drift.compare and
    drift.prediction_drift over a file read twice in batches (the second pass for numerical columns)."""
    series = {c: reference[c] for c in columns}
    kinds = {c: drift.reference_kind(c, reference[c], cfg) for c in columns}
    stream = batches(path, reference)
    schema = next(stream)
    drift.check_columns(len(reference), schema.names, columns, {*columns, target, PREDICTION})
    names = list(columns)
    if model is not None:
        series[PREDICTION] = drift._predict(model, reference)
        kinds[PREDICTION] = drift.reference_kind(PREDICTION, series[PREDICTION], cfg)
        names.append(PREDICTION)
    for column in names:
        if column in schema.names and not pa.types.is_null(dtype := schema.field(column).type):
            drift.check_dtype(column, series[column], is_numeric(dtype), str(dtype))
    refs = {c: drift.sample(series[c], kinds[c], reference=True) for c in names}
    sketches = {c: Numeric(refs[c]) if kinds[c] == NUM else Categorical() for c in names}
    numeric = [c for c in names if kinds[c] == NUM]

    rows = 0
    # Parsing CSV costs more than writing and mapping the parsed numbers: the second pass over a CSV
    # file reads its numerical columns back from an uncompressed Arrow file the first pass spilled.
    spill = Spill(numeric) if numeric and path.suffix.lower() == ".csv" else None
    with ThreadPoolExecutor(THREADS or min(len(names), 4)) as pool:  # numpy's sorts release the GIL
        for batch in stream:
            rows += batch.num_rows
            arrays = _arrays(batch, names, model)
            list(pool.map(lambda c, a=arrays: sketches[c].add(a[c]), names))
            if spill:
                spill.write(arrays)
        drift.check_rows(rows, cfg)
        tests = {}
        for c in names:
            drift.check_values(c, "current", sketches[c].n, cfg)
            if kinds[c] == CAT:
                distinct = lambda c=c: drift.distinct(refs[c], sketches[c].sample(), CAT)  # noqa: E731
            else:
                distinct = sketches[c].distinct
            tests[c] = drift.test_of(cfg, c, kinds[c], refs[c].n, distinct)
        for c in numeric:
            sketches[c].plan(tests[c][0])
        if spill:
            again = spill.read()
        elif numeric:
            predicted = PREDICTION in numeric and PREDICTION not in schema.names  # the model needs all
            again = batches(path, reference, None if predicted else numeric)
            next(again)
        for batch in again if numeric else ():
            arrays = _arrays(batch, numeric, model)
            list(pool.map(lambda c, a=arrays: sketches[c].add_again(a[c]), numeric))

    def result(column: str) -> drift.ColumnResult:
        (method, threshold), ref, sketch = tests[column], refs[column], sketches[column]
        if kinds[column] == CAT:
            cur = sketch.sample()
            score, histogram = drift.SCORES[method](ref, cur, CAT), drift.histogram(ref, cur, CAT)
        else:
            cur, score, histogram = sketch, sketch.score(method), sketch.histogram()
        return drift.column_result(column, kinds[column], method, threshold, score, ref, cur, histogram, cfg)

    results = [result(c) for c in columns]
    return results, result(PREDICTION) if model is not None else None, rows


class Spill:
    """Numerical columns of the first pass in a temporary Arrow file, for the second."""

    def __init__(self, columns: list[str]):
        import tempfile

        self.columns, self.writer = columns, None
        self.directory = tempfile.TemporaryDirectory(prefix="drift-")
        self.path = Path(self.directory.name) / "numbers.arrow"

    def write(self, arrays: dict) -> None:
        batch = pa.record_batch([pa.array(as_floats(arrays[c])) for c in self.columns], names=self.columns)
        if self.writer is None:
            self.writer = pa.ipc.new_file(str(self.path), batch.schema)
        self.writer.write_batch(batch)

    def read(self):
        try:
            if self.writer is None:
                return
            self.writer.close()
            with pa.OSFile(str(self.path)) as source:  # read, not mapped: mapped pages count as resident
                reader = pa.ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)
        finally:
            self.directory.cleanup()


def _arrays(batch: pa.RecordBatch, names: list[str], model) -> dict:
    arrays = {c: batch.column(c) for c in names if c != PREDICTION or c in batch.schema.names}
    if PREDICTION in names and PREDICTION not in arrays:  # a dataset: the model's predictions on it
        arrays[PREDICTION] = drift._predict(model, batch.to_pandas()).to_numpy()
    return arrays
