"""Seeded reference/current dataset pairs for the drift comparison and benchmark.

    python datasets.py CASE OUT_DIR --reference-rows N --current-rows M [M2 ...] [--seed S]
                       [--format parquet|csv] [--batch-rows B]

writes OUT_DIR/reference.<format> and OUT_DIR/current.<format> (current-M.<format> per count when
several are given: the first M rows of one stream). Cases:
  mixed  one column for each path through the test choice: many-valued, few-valued and
         two-valued numbers, integer codes, wide integers, strings, missing values, a
         category seen only in current; some drifted, some not
  wide   20 numerical and 5 categorical columns (the benchmark's shape), a third shifted
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def mixed(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    shift = 1.0 if drifted else 0.0
    floats = rng.normal(10 + 0.3 * shift, 2, n)
    floats[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "num_stable": rng.normal(0, 1, n),
            "num_shifted": rng.normal(0.25 * shift, 1 + 0.2 * shift, n),
            "num_small_shift": rng.normal(0.05 * shift, 1, n),
            "num_few": rng.choice(
                [0.5, 1.5, 2.5, 3.5], n, p=[0.4, 0.3, 0.2, 0.1] if not drifted else [0.3, 0.3, 0.2, 0.2]
            ),
            "num_two": rng.choice([1.0, 2.0], n, p=[0.5, 0.5] if not drifted else [0.45, 0.55]),
            "int_codes": rng.integers(0, 7, n),
            "int_wide": rng.integers(0, 120 + int(20 * shift), n),
            "cat_three": rng.choice(
                ["red", "green", "blue"], n, p=[0.5, 0.3, 0.2] if not drifted else [0.4, 0.3, 0.3]
            ),
            "cat_two": rng.choice(["yes", "no"], n, p=[0.7, 0.3]),
            "cat_new": rng.choice(["a", "b", "c", "d"] if drifted else ["a", "b", "c"], n),
            "with_missing": floats,
        }
    )


def wide(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    columns = {}
    for i in range(20):
        shifted = drifted and i % 3 == 0
        scale = 10 ** (i % 4)  # columns of different magnitudes
        values = rng.normal(0.2 if shifted else 0.0, 1.0, n) * scale
        columns[f"num_{i:02d}"] = np.round(values, 3) if i % 5 == 0 else values  # some with ties
    for i in range(5):
        p = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
        if drifted and i % 3 == 0:
            p = p[::-1]
        columns[f"cat_{i}"] = rng.choice(["north", "south", "east", "west", "up", "down"], n, p=p)
    return pd.DataFrame(columns)


CASES = {"mixed": mixed, "wide": wide}


def write(frames, paths: list[Path], rows: list[int]) -> None:
    """Write consecutive frames into files of the first rows[i] rows each (prefixes of one stream),
    a batch at a time: no file's rows are ever in memory together."""
    writers = {}
    written = 0
    for frame in frames:
        for path, limit in zip(paths, rows, strict=True):
            part = frame.iloc[: max(limit - written, 0)]
            if len(part) == 0 and path in writers:
                continue
            if path.suffix == ".parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(part, preserve_index=False)
                if path not in writers:
                    writers[path] = pq.ParquetWriter(path, table.schema)
                writers[path].write_table(table)
            else:
                part.to_csv(
                    path, index=False, header=path not in writers, mode="a" if path in writers else "w"
                )
                writers[path] = None
        written += len(frame)
    for writer in writers.values():
        if writer is not None:
            writer.close()


def generate(case: str, rows: int, drifted: bool, rng: np.random.Generator, batch_rows: int):
    for start in range(0, rows, batch_rows):
        yield CASES[case](rng, min(batch_rows, rows - start), drifted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=CASES)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--reference-rows", type=int, required=True)
    parser.add_argument(
        "--current-rows",
        type=int,
        nargs="+",
        required=True,
        help="one file per count (current-N.<format> when several): prefixes of one stream",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--batch-rows", type=int, help="rows generated and written at a time (default: all)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"reference.{args.format}"
    write(
        generate(args.case, args.reference_rows, False, rng, args.reference_rows),
        [path],
        [args.reference_rows],
    )
    counts = sorted(args.current_rows)
    names = ["current"] if len(counts) == 1 else [f"current-{n}" for n in counts]
    paths = [args.out_dir / f"{name}.{args.format}" for name in names]
    write(generate(args.case, counts[-1], True, rng, args.batch_rows or counts[-1]), paths, counts)


if __name__ == "__main__":
    main()
