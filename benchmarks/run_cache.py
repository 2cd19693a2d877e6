"""What the DVC run-cache saves a pull request, on an S3 remote: wall time and stages run, side by side.

    uv run python benchmarks/run_cache.py

A project generated with dvc_remote=s3 on an S3-compatible server on loopback (moto's server mode,
given as dvc_remote_endpoint_url). main reproduces the pipeline and pushes data, models and the
run-cache (`dvc push --run-cache`, as main.yml does), for max_depth 8 and then 6. Each pull request
below is timed in a fresh clone with an empty DVC cache, as a runner starts, with the project's
environment installed beforehand (not timed):

- with the run-cache: `dvc pull --run-cache` then `dvc repro --pull`, as pr.yml does (`--pull`
  fetches the outputs of a run-cache entry that matches a changed stage);
- the same without `--pull`: the run-cache's entries are there, their outputs are not;
- without the remote: `dvc repro` from source.

Two pull requests: one that changes a training parameter to a value never trained, and one that
sets it back to a value main trained before (max_depth 8), which only the run-cache can restore.
Stages run and restored are read from DVC's own output. Prints figures; asserts nothing about time.
"""

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.act_runner import commit_all, git
from tests.conftest import bake, clean_env
from tests.servers import S3_CREDENTIALS, s3_bucket, s3_server

KEYS = {name: S3_CREDENTIALS[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
UV = shutil.which("uv") or sys.exit("uv is not on PATH")


def dvc(where: Path, *args: str) -> str:
    proc = subprocess.run([UV, "run", "--quiet", "dvc", *args], cwd=where, env=clean_env(**KEYS),
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        sys.exit(f"dvc {' '.join(args)} failed in {where}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def stages(output: str) -> tuple[list[str], list[str]]:
    """(run, restored) from `dvc repro`'s output."""
    ran = re.findall(r"^Running stage '([^']+)'", output, re.M)
    restored = re.findall(
        r"^(?:Stage |Pulling data for stage: )'([^']+)'(?:$| didn't change| is cached)", output, re.M
    )
    return ran, restored


def fresh_clone(project: Path, branch: str, where: Path) -> Path:
    """A checkout of `branch` with the project's environment and an empty DVC cache, as a runner has."""
    subprocess.run(["git", "clone", "-q", "-b", branch, str(project), str(where)], check=True)
    subprocess.run([UV, "sync", "--quiet", "--locked"], cwd=where, env=clean_env(), check=True)
    dvc(where, "version")  # the first import of a fresh environment, not the pipeline's time
    return where


MODES = {
    "dvc pull --run-cache + dvc repro --pull": (["pull", "--run-cache"], ["repro", "--pull"]),
    "dvc pull --run-cache + dvc repro": (["pull", "--run-cache"], ["repro"]),
    "dvc repro from source": (None, ["repro"]),
}


def timed_pr(project: Path, branch: str, scratch: Path, mode: int) -> tuple[float, list, list]:
    pull, repro = list(MODES.values())[mode]
    clone = fresh_clone(project, branch, scratch / f"{branch}-{mode}")
    started = time.perf_counter()
    if pull:
        dvc(clone, *pull)
    output = dvc(clone, *repro)
    seconds = time.perf_counter() - started
    ran, restored = stages(output)
    return seconds, ran, [stage for stage in dict.fromkeys(restored) if stage not in ran]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        server, endpoint = s3_server(scratch)
        try:
            s3_bucket(endpoint, "bench")
            project = bake(scratch, python_version="3.11", project_name="bench run cache", dvc_remote="s3",
                           dvc_remote_url="s3://bench/dvc", dvc_remote_endpoint_url=endpoint)  # fmt: skip
            project.run("uv", "lock", "--quiet")
            project.run("uv", "sync", "--quiet")
            for depth in (8, 6):  # two merges to main, each reproduced and pushed as main.yml does
                project.set_hyperparameters(max_depth=depth)
                dvc(project.path, "repro")
                dvc(project.path, "push", "--run-cache")
                commit_all(project.path, f"max_depth {depth}")
            for branch, depth in (("new-value", 4), ("trained-before", 8)):
                git(project.path, "checkout", "-q", "-b", branch, "main")
                project.set_hyperparameters(max_depth=depth)  # params.yaml only, as its author pushes it
                commit_all(project.path, f"max_depth {depth}")
            git(project.path, "checkout", "-q", "main")

            print(f"{'pull request (max_depth 6 to)':<29} {'how':<40} {'wall s':>7}  stages run | restored")
            for branch, label in (
                ("new-value", "4, never trained"),
                ("trained-before", "8, trained on main before"),
            ):
                for mode, how in enumerate(MODES):
                    seconds, ran, restored = timed_pr(project.path, branch, scratch, mode)
                    print(f"{label:<29} {how:<40} {seconds:7.1f}  {','.join(ran) or '-'} | "
                          f"{','.join(restored) or '-'}")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
