"""Figures for the drift check at growing current sizes, with Evidently's DataDriftPreset beside it.

    uv run python benchmarks/drift_benchmark.py [--reference-rows 100000]
        [--current-rows 1000000 10000000 30000000] [--evidently-rows 1000000]
        [--format parquet|csv] [--repeat 1] [--data DIR]

Each run is a fresh process timed from start to exit (imports, reading the files, the tests; the
drift process also writes its three reports); peak memory is the child's ru_maxrss. The data: 20
numerical and 5 categorical columns, a third of them shifted (tests/evidently_env/datasets.py,
case "wide"), written a million rows at a time, the smaller current files the first rows of the
largest. Evidently reads its data whole, so it runs at one size only. Nothing here asserts.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import bake, clean_env
from tests.evidently_env import envs

RUN_DRIFT = """
import json, sys
from {package} import drift
params = {{"data": {{"target": "target"}}, "drift": {{}}}}
sys.exit(drift.run(params, sys.argv[1], sys.argv[2], sys.argv[3], False, None))
"""
TARGETS = {10_000_000: "target < 30 s, < 1536 MB on 2 cores"}


def measured(cmd: list, **kwargs) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of one child process."""
    with tempfile.TemporaryFile() as output:  # a file, not a pipe: a chatty child cannot block
        start = time.perf_counter()
        child = subprocess.Popen([str(c) for c in cmd], stdout=output, stderr=subprocess.STDOUT, **kwargs)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: drift found, a verdict not a failure
            output.seek(0)
            sys.exit(f"{' '.join(map(str, cmd[:3]))} failed:\n{output.read().decode()}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def generate(python: Path, data: Path, args) -> None:
    """The reference and one current file per size, unless a kept --data directory has them."""
    names = [data / f"reference.{args.format}"] + [current(data, n, args.format) for n in args.current_rows]
    if all(p.is_file() for p in names):
        return
    counts = [str(n) for n in args.current_rows]
    started = time.perf_counter()
    subprocess.run(
        [python, envs.DATASETS, "wide", data, "--reference-rows", str(args.reference_rows),
         "--current-rows", *counts, "--format", args.format, "--batch-rows", "1000000"],
        check=True,
    )  # fmt: skip
    print(f"data written in {time.perf_counter() - started:.0f} s to {data}")


def current(data: Path, rows: int, fmt: str) -> Path:
    return data / f"current-{rows}.{fmt}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--current-rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 30_000_000])
    parser.add_argument("--evidently-rows", type=int, default=1_000_000, help="0: leave Evidently out")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the drift check per size (median shown)"
    )
    parser.add_argument(
        "--data", type=Path, help="keep the data here and reuse it (default: a temporary dir)"
    )
    args = parser.parse_args()
    args.current_rows = sorted(set(args.current_rows) | ({args.evidently_rows} - {0}))

    drift_python = envs.ensure("drift", envs.DRIFT)
    evidently_python = envs.ensure("evidently", envs.EVIDENTLY) if args.evidently_rows else None
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        project = bake(scratch / "project")
        data = args.data or scratch / "data"
        data.mkdir(parents=True, exist_ok=True)
        generate(drift_python, data, args)
        reference = data / f"reference.{args.format}"
        load = os.getloadavg()[0]  # other work on the machine slows every run: shown with the figures

        driver = RUN_DRIFT.format(package=project.package)
        env = clean_env(PYTHONPATH=str(project.path / "src"))
        ours, reports = {}, {}
        for rows in args.current_rows:
            out = scratch / f"out-{rows}"
            runs = [
                measured(
                    [drift_python, "-c", driver, reference, current(data, rows, args.format), out],
                    cwd=project.path,
                    env=env,
                )
                for _ in range(args.repeat)
            ]
            ours[rows] = (
                *(statistics.median(run[i] for run in runs) for i in (0, 1)),
                max(r[2] for r in runs),
            )
            reports[rows] = json.loads((out / "drift.json").read_text())
        if evidently_python:
            cur = current(data, args.evidently_rows, args.format)
            theirs = measured(
                [evidently_python, envs.RUN_EVIDENTLY, reference, cur, scratch / "evidently.json"]
            )
            evidently = json.loads((scratch / "evidently.json").read_text())

    columns = len(reports[args.current_rows[0]]["columns"])
    print(
        f"drift benchmark: reference {args.reference_rows:,} rows, {columns} columns ({args.format}); "
        f"{os.cpu_count()} CPUs, load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'current rows':>14}  {'':26}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}  verdict")
    for rows, (wall, cpu, peak) in ours.items():
        report = reports[rows]
        verdict = f"{report['number_of_drifted_columns']} drifted, dataset drift {report['dataset_drift']}"
        print(
            f"{rows:>14,}  {'drift (generated project)':26}{wall:8.1f}{cpu:8.1f}{peak:9.0f}  {verdict}",
            end="",
        )
        print(f"   {TARGETS[rows]}" if rows in TARGETS else "")
    if evidently_python:
        drifted = sum(c["drifted"] for c in evidently["columns"].values())
        verdict = f"{drifted} drifted, dataset drift {evidently['dataset_drift']}"
        name = "Evidently DataDriftPreset"
        print(
            f"{args.evidently_rows:>14,}  {name:26}{theirs[0]:8.1f}{theirs[1]:8.1f}{theirs[2]:9.0f}  {verdict}"
        )
        wall, cpu, _ = ours[args.evidently_rows]
        mine = {c["column"]: c for c in reports[args.evidently_rows]["columns"]}
        differ = [c for c, col in mine.items() if col["drifted"] != evidently["columns"][c]["drifted"]]
        methods = [c for c, col in mine.items() if col["method"] != evidently["columns"][c]["method"]]
        print(
            f"at {args.evidently_rows:,} rows: {theirs[0] / wall:.1f}x faster ({theirs[1] / cpu:.1f}x less CPU) "
            f"than Evidently (its report alone {evidently['seconds']:.1f} s); columns whose verdicts differ: "
            f"{len(differ)}{' ' + str(differ) if differ else ''}, tests chosen differently: {len(methods)}"
        )
    sizes = args.current_rows
    if len(sizes) > 1:
        first, last = sizes[-2], sizes[-1]
        print(
            f"peak memory from {first:,} to {last:,} rows: {ours[first][2]:.0f} -> {ours[last][2]:.0f} MB "
            f"({ours[last][2] / ours[first][2]:.2f}x for {last / first:.0f}x the rows)   target: flat"
        )


if __name__ == "__main__":
    main()
