"""The figures of the production services in one run: the run-cache, then drift past memory.

    uv run python benchmarks/production_services.py

Runs benchmarks/run_cache.py (a pull request that changes one training parameter, with the
run-cache on an S3 remote against without it: wall time and stages run) and then
benchmarks/drift_benchmark.py (the drift check at 1M, 10M and 30M current rows, with Evidently at
1M), one after the other so they do not share the machine, and prints both tables. Extra
arguments go to the drift benchmark (e.g. --format csv). Nothing here asserts.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    for script, args in (("run_cache.py", []), ("drift_benchmark.py", sys.argv[1:])):
        print(f"=== {script}", flush=True)
        status = subprocess.run([sys.executable, str(HERE / script), *args]).returncode
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
