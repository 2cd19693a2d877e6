"""Wall time of the generated pr.yml under act, for two kinds of pull request.

    uv run python benchmarks/pr_workflow.py

1. a parameter-only change, with a warm uv cache (a first run warms it and is not counted);
2. a change nothing in the pipeline depends on (README): DVC must restore every stage
   from the remote instead of running it, which the job summary must confirm.

The DVC remote is a directory on this machine, so act's job (host mode) can pull from it
as a runner pulls from a cloud remote. Prints figures and the slowest steps; asserts nothing
about time.
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.act_runner import ORIGIN, REPOSITORY, commit_all, git, pull_request_event, run_act
from tests.conftest import bake
from tests.fake_github import FakeGitHub

TOKEN = "ghs_benchmark"


def pr_run(project, api: FakeGitHub, scratch: Path, label: str, edit: tuple[str, str, str]):
    relative, old, new = edit
    git(project.path, "checkout", "-q", "-B", label, "main")
    path = project.path / relative
    path.write_text(path.read_text().replace(old, new, 1))
    commit_all(project.path, label)
    api.add_pull(REPOSITORY, len(api.pulls(REPOSITORY)) + 1, head=label)
    event = pull_request_event(project.path, len(api.pulls(REPOSITORY)), label)
    result = run_act(
        project.path,
        "pull_request",
        event,
        secrets={"GITHUB_TOKEN": TOKEN},
        github_api_url=api.url,
        workdir=scratch / label,
    )
    if result.returncode:
        sys.exit(f"{label}: pr.yml failed\n{result}")
    return result


def slowest(result, n: int = 4) -> str:
    steps = [
        (r["executionTime"] / 1e9, r["step"].splitlines()[0][:40])
        for r in result.records
        if r.get("stage") == "Main" and "executionTime" in r and len(r.get("stepID", [])) == 1
    ]
    return ", ".join(f"{name} {seconds:.1f} s" for seconds, name in sorted(steps, reverse=True)[:n])


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, FakeGitHub(token=TOKEN) as api:
        scratch = Path(scratch)
        storage = scratch / "dvc-storage"
        project = bake(scratch, python_version="3.11", project_name="bench pr", dvc_remote_url=str(storage))
        git(project.path, "remote", "add", "origin", ORIGIN)
        project.run("uv", "lock", "--quiet")
        project.run("uv", "sync", "--quiet")
        project.run("uv", "run", "dvc", "repro")
        project.run("uv", "run", "dvc", "push")
        commit_all(project.path, "base")

        pr_run(project, api, scratch, "warm-up", ("params.yaml", "max_depth: 8", "max_depth: 6"))
        param = pr_run(project, api, scratch, "param", ("params.yaml", "max_depth: 8", "max_depth: 2"))
        print(f"pr.yml, parameter-only change, warm uv cache: {param.seconds:.1f} s (act wall time)")
        print(f"  slowest steps: {slowest(param)}")
        print(f"  {next(line for line in param.summary.splitlines() if line.startswith('**Pipeline:**'))}")

        noop = pr_run(project, api, scratch, "docs", ("README.md", "\n", "\nA documentation change.\n"))
        pipeline = next(line for line in noop.summary.splitlines() if line.startswith("**Pipeline:**"))
        print(f"pr.yml, change the pipeline does not depend on: {noop.seconds:.1f} s (act wall time)")
        print(f"  slowest steps: {slowest(noop)}")
        print(f"  {pipeline}")
        if "none, every stage was up to date" not in pipeline:
            sys.exit("DVC re-ran stages for a change the pipeline does not depend on")


if __name__ == "__main__":
    main()
