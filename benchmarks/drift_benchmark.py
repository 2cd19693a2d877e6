"""Figures for the drift check: the generated `drift` against Evidently's DataDriftPreset.

    uv run python benchmarks/drift_benchmark.py [--reference-rows 100000] [--current-rows 1000000]
                                                 [--format parquet|csv] [--repeat 3]

Both run on the same data in the same run, each as a fresh process timed from start to exit
(imports, reading the files, the tests; the drift process also writes its three reports).
Peak memory is the child's ru_maxrss. The data: 20 numerical and 5 categorical columns, a
third of them shifted (tests/evidently_env/datasets.py, case "wide"). Nothing here asserts.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--current-rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the drift check (median shown)")
    args = parser.parse_args()

    drift_python, evidently_python = (
        envs.ensure("drift", envs.DRIFT),
        envs.ensure("evidently", envs.EVIDENTLY),
    )
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        project = bake(scratch / "project")
        data = scratch / "data"
        rows = ["--reference-rows", str(args.reference_rows), "--current-rows", str(args.current_rows)]
        subprocess.run(
            [drift_python, envs.DATASETS, "wide", data, *rows, "--format", args.format], check=True
        )
        reference, current = data / f"reference.{args.format}", data / f"current.{args.format}"
        load = os.getloadavg()[0]  # other work on the machine slows both sides: shown with the figures

        driver = RUN_DRIFT.format(package=project.package)
        env = clean_env(PYTHONPATH=str(project.path / "src"))
        ours = [
            measured(
                [drift_python, "-c", driver, reference, current, scratch / "out"], cwd=project.path, env=env
            )
            for _ in range(args.repeat)
        ]
        theirs = measured(
            [evidently_python, envs.RUN_EVIDENTLY, reference, current, scratch / "evidently.json"]
        )
        report = json.loads((scratch / "out" / "drift.json").read_text())
        evidently = json.loads((scratch / "evidently.json").read_text())

    columns = {c["column"]: c for c in report["columns"]}
    differ = [name for name, c in columns.items() if c["drifted"] != evidently["columns"][name]["drifted"]]
    methods = [name for name, c in columns.items() if c["method"] != evidently["columns"][name]["method"]]
    wall, cpu = (statistics.median(run[i] for run in ours) for i in (0, 1))
    peak = max(run[2] for run in ours)

    print(
        f"drift benchmark: reference {args.reference_rows:,} rows, current {args.current_rows:,} rows, "
        f"{len(columns)} columns ({args.format}); {os.cpu_count()} CPUs, "
        f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'':28}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}")
    print(f"{'drift (generated project)':28}{wall:8.2f}{cpu:8.2f}{peak:9.0f}   target < 5 s, < 1024 MB")
    print(f"{'  each run':28}  " + ",  ".join(f"{s:.2f} s {c:.2f} cpu {m:.0f} MB" for s, c, m in ours))
    print(f"{'Evidently DataDriftPreset':28}{theirs[0]:8.2f}{theirs[1]:8.2f}{theirs[2]:9.0f}", end="   ")
    print(f"the report alone {evidently['seconds']:.2f} s")
    print(f"{'speed-up':28}{theirs[0] / wall:7.1f}x{theirs[1] / cpu:7.1f}x{'':9}   target >= 10x")
    print(
        f"columns whose verdicts differ: {len(differ)} of {len(columns)}{' ' + str(differ) if differ else ''}; "
        f"tests chosen differently: {len(methods)}   target 0"
    )
    drifted = sum(c["drifted"] for c in evidently["columns"].values())
    print(
        f"drifted columns: {report['number_of_drifted_columns']} (Evidently {drifted}); "
        f"dataset drift: {report['dataset_drift']} (Evidently {evidently['dataset_drift']})"
    )


if __name__ == "__main__":
    main()
