"""Figures for the template foundation: render time, dvc repro times, MLflow logging overhead.

    uv run python benchmarks/foundation.py

Prints medians over a few repetitions; nothing here asserts, it measures.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import TEMPLATE, clean_env  # noqa: E402

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"


def timed(cmd, cwd, **env) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=clean_env(**env), capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{result.stdout}{result.stderr}")
    return time.perf_counter() - start


def median_of(n, make_cmd, cwd) -> float:
    return statistics.median(timed(make_cmd(i), cwd) for i in range(n))


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        render = median_of(
            5, lambda i: [COOKIECUTTER, "--no-input", str(TEMPLATE), "-o", str(scratch / f"r{i}")], scratch
        )
        print(
            f"render (cookiecutter --no-input, process wall time, median of 5): {render:.2f} s  target < 1 s"
        )

        project = scratch / "r0" / "demo-model"
        timed(["uv", "sync", "--quiet"], project)
        first = timed(["uv", "run", "dvc", "repro"], project)
        noop = median_of(3, lambda i: ["uv", "run", "dvc", "repro"], project)
        print(f"dvc repro, first run (5 stages, MLflow logging included): {first:.1f} s")
        print(f"dvc repro, no-op (median of 3): {noop:.2f} s  target < 5 s")

        evaluate = ["uv", "run", "demo_model", "evaluate"]
        with_mlflow = median_of(3, lambda i: evaluate, project)
        without = median_of(3, lambda i: [*evaluate, "--no-mlflow"], project)
        print(
            f"evaluate with MLflow logging {with_mlflow:.2f} s, without {without:.2f} s: "
            f"logging adds {with_mlflow - without:.2f} s (median of 3)  target < 5 s"
        )


if __name__ == "__main__":
    main()
