"""Evidently's DataDriftPreset on two datasets; runs inside the Evidently environment (pandas<3).

    python run_evidently.py REFERENCE CURRENT OUT.json [--options JSON] [--columns a,b]

REFERENCE and CURRENT are CSV or parquet files. OUT.json gets, per column, Evidently's
method (its registered name), score, threshold and verdict, plus the dataset verdict and the seconds taken by the
report alone (reading the files excluded).
"""

import argparse
import json
import time

import pandas as pd
from evidently import Report
from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
from evidently.presets import DataDriftPreset

# A metric names its method by display name when Evidently chose it, by name when it was given.
NAMES = {test.display_name: test.name for tests in _registered_stat_tests.values() for test in tests.values()}


def read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("out")
    parser.add_argument("--options", default="{}", help="keyword arguments of DataDriftPreset, as JSON")
    parser.add_argument("--columns", help="comma-separated columns to compare (default: all)")
    args = parser.parse_args()
    reference, current = read(args.reference), read(args.current)
    if args.columns:
        columns = args.columns.split(",")
        reference, current = reference[columns], current[columns]

    started = time.perf_counter()
    snapshot = Report([DataDriftPreset(**json.loads(args.options))], include_tests=True).run(
        current, reference
    )
    seconds = time.perf_counter() - started

    result = snapshot.dict()
    columns, share = {}, None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {
                "method": NAMES.get(config["method"], config["method"]),
                "score": metric["value"],
                "threshold": config["threshold"],
            }
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
        elif params["type"].endswith("DriftedColumnsCount"):
            dataset_drift = test["status"] == "FAIL"
    with open(args.out, "w") as out:
        json.dump(
            {"columns": columns, "share": share, "dataset_drift": dataset_drift, "seconds": seconds},
            out,
            indent=2,
        )


if __name__ == "__main__":
    main()
