"""Run a generated workflow for real with `act` in host mode, and build the git repositories it runs on.

act executes each `run:` step on this machine with GitHub's expressions, `if:`, outputs,
env and secrets evaluated by act itself. Third-party actions are replaced by the
stand-ins in tests/standins, mapped to the exact commits the workflows pin (the table
below is the only place those commits appear in the tests). act's own workspace, cache
and HOME live in a temporary directory; the job summary, the artifacts and the `cml`
calls are returned for the test to assert on.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

STANDINS = Path(__file__).resolve().parent / "standins"
ORIGIN = "https://github.com/acme/demo.git"
REPOSITORY = "acme/demo"

# owner/name -> (pinned commit, stand-in directory or None when act handles the action itself)
ACTIONS: dict[str, tuple[str, Path | None]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", None),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", STANDINS / "actions/setup-python"),
    "astral-sh/setup-uv": ("20cfd1bf945f4377ade1205e4dbc17946fc9a30d", STANDINS / "astral-sh/setup-uv"),
    "iterative/setup-cml": ("f12ea7685438c1fc438d50f77519b3860cf5fa98", STANDINS / "iterative/setup-cml"),
    "actions/upload-artifact": (
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        STANDINS / "actions/upload-artifact",
    ),
    "actions/download-artifact": (
        "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
        STANDINS / "actions/download-artifact",
    ),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", STANDINS / "actions/cache"),
    "actions/create-github-app-token": (
        "1b10c78c7865c340bc4f6099eb2f838309f1e8c3",
        STANDINS / "actions/create-github-app-token",
    ),
    "actions/attest-build-provenance": (
        "a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32",
        STANDINS / "actions/attest-build-provenance",
    ),
    "docker/setup-buildx-action": (
        "37fe631027851001ddb9b187196cc803df7f5f0e",
        STANDINS / "docker/setup-buildx-action",
    ),
    "docker/login-action": ("4907a6ddec9925e35a0a9e82d7399ccc52663121", STANDINS / "docker/login-action"),
    "docker/metadata-action": (
        "dc802804100637a589fabce1cb79ff13a1411302",
        STANDINS / "docker/metadata-action",
    ),
    "docker/build-push-action": (
        "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a",
        STANDINS / "docker/build-push-action",
    ),
}

# What the act process (the "runner") passes on to steps: no variables of this test run.
DROPPED_ENV = (
    "VIRTUAL_ENV",
    "UV_PROJECT",
    "MLFLOW_",
    "GITHUB_",
    "RUNNER_",
    "ACT",
    "PYTHONPATH",
    "PYTEST_",
    "CONDA",
    "PYENV_",
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ActSetupError(Exception):
    """The workflow cannot run under act here (an action without a stand-in, a missing tool)."""


@dataclass(repr=False)
class ActResult:
    returncode: int
    stdout: str  # the job log as text, one line per record
    summary: str  # everything the steps wrote to $GITHUB_STEP_SUMMARY, in order
    records: list[dict]  # act's JSON log
    artifacts: Path  # $STANDIN_ARTIFACT_DIR: one directory per uploaded artifact
    cml_calls: list[dict]  # one record per `cml` invocation
    seconds: float
    command: list[str] = field(repr=False)

    @property
    def standin_records(self) -> Path:
        """$STANDIN_OUTPUT_DIR: what the stand-ins recorded (cml calls, docker logins and builds)."""
        return self.artifacts.parent / "out"

    def steps(self) -> dict[str, str]:
        """Step name -> result (success, failure, skipped) of the main stage."""
        results = {}
        for record in self.records:
            if "stepResult" in record and record.get("stage") == "Main":
                results[record["step"]] = record["stepResult"]
        return results

    def __repr__(self) -> str:  # what pytest shows when an assertion on the result fails
        failed = [name for name, result in self.steps().items() if result == "failure"]
        lines = self.stdout.splitlines()
        tail = "\n".join(lines[-80:])
        errors = "\n".join(line for line in lines if "::error::" in line or "Error:" in line)
        return (
            f"act exited {self.returncode} after {self.seconds:.0f} s; failed steps: {failed}\n"
            f"--- errors\n{errors}\n"
            f"--- log (last 80 lines)\n{tail}\n--- summary\n{self.summary}"
        )

    __str__ = __repr__


def find_tool(name: str) -> str:
    """A tool of the test environment: next to this interpreter first, then on PATH (pyenv shims resolved)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found and "/shims/" in found:
        found = (
            subprocess.run(
                ["pyenv", "which", name], check=False, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    if not found:
        raise ActSetupError(
            f"`{name}` is not installed in the test environment; install the template's dev deps"
        )
    return found


def pinned_actions(workflow: Path) -> set[str]:
    uses = set()
    for line in workflow.read_text().splitlines():
        stripped = line.strip().removeprefix("- ")
        if stripped.startswith("uses:"):
            uses.add(stripped.split(":", 1)[1].split("#", 1)[0].strip().strip("'\""))
    return uses


def check_actions(workflow: Path) -> None:
    """Fail before act would try to download an action: every `uses:` must be a pin this harness maps."""
    for ref in pinned_actions(workflow):
        if ref.startswith("./"):
            continue
        name, _, sha = ref.partition("@")
        if name not in ACTIONS:
            raise ActSetupError(f"{workflow.name} uses {name}, which has no stand-in in tests/standins")
        if sha != ACTIONS[name][0]:
            raise ActSetupError(
                f"{workflow.name} pins {name}@{sha}; the stand-in is mapped to {ACTIONS[name][0]}"
            )


def runner_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
    uv = find_tool("uv")
    cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()
    env.update(
        PATH=SYSTEM_PATH,  # a fresh runner: tools come from the workflow's setup steps
        HOME=str(home),
        LANG="C.UTF-8",
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", cache),  # the runner's restored uv cache
        UV_PYTHON_DOWNLOADS="never",  # nothing can be downloaded here: fail at once instead of waiting
        STANDIN_UV=uv,
        GIT_PAGER="cat",
        PAGER="cat",
    )
    env.update(extra)
    return env


def text_log(records: list[dict]) -> str:
    lines = []
    for record in records:
        message = record.get("msg", "").rstrip("\n")
        lines.append(message if record.get("raw_output") else f"[{record.get('jobID', 'act')}] {message}")
    return "\n".join(lines)


def run_act(
    repo_dir: Path,
    event_name: str,
    event_payload: dict,
    *,
    secrets: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    workflow: str = ".github/workflows/pr.yml",
    job: str | None = None,
    github_api_url: str | None = None,
    timeout: int = 1200,
    workdir: Path | None = None,
) -> ActResult:
    """Run one workflow of `repo_dir` (its checked-out branch is what act copies) for `event_name`."""
    repo_dir = Path(repo_dir)
    check_actions(repo_dir / workflow)
    work = Path(workdir or tempfile.mkdtemp(prefix="act-"))
    for sub in ("home", "cache", "artifacts", "out"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    event_file = work / "event.json"
    event_file.write_text(json.dumps(event_payload))

    command = [
        find_tool("act"),
        event_name,
        "-W",
        workflow,
        "-e",
        str(event_file),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-cache-path",
        str(work / "cache"),
        "--no-cache-server",  # actions/cache is a stand-in; act's cache server would bind 192.0.2.2
        "--json",
        "--env",
        f"GITHUB_API_URL={github_api_url or 'http://127.0.0.1:9'}",
    ]
    for name, (sha, path) in ACTIONS.items():
        if path is not None:
            command += ["--local-repository", f"{name}@{sha}={path}"]
    for name, value in (secrets or {}).items():
        command += ["-s", f"{name}={value}"]
    for name, value in (variables or {}).items():
        command += ["--var", f"{name}={value}"]
    if job:
        command += ["-j", job]

    extra = {
        "STANDIN_ARTIFACT_DIR": str(work / "artifacts"),
        "STANDIN_OUTPUT_DIR": str(work / "out"),
        **(env or {}),
    }
    started = time.monotonic()
    proc = subprocess.run(
        command,
        cwd=repo_dir,
        env=runner_env(work / "home", extra),
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started

    records = []
    for line in proc.stdout.splitlines() + proc.stderr.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append({"msg": line})
    summary = "".join(r.get("content", "") for r in records if r.get("command") == "summary")
    calls_file = work / "out" / "cml-calls.jsonl"
    calls = [json.loads(x) for x in calls_file.read_text().splitlines()] if calls_file.exists() else []
    # act leaves a job's workspace (with its .venv) behind, and reuses it on the next run in `work`.
    shutil.rmtree(work / "cache", ignore_errors=True)
    return ActResult(
        proc.returncode, text_log(records), summary, records, work / "artifacts", calls, seconds, command
    )


# Test repositories.
def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def init_repo(path: Path, origin: str = ORIGIN) -> Path:
    """A git repository on `main` whose origin is a GitHub URL (never pushed to): act reads the repo name from it."""
    git(path, "init", "-q", "-b", "main")
    git(path, "remote", "add", "origin", origin)
    return path


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def pull_request_event(
    repo: Path,
    number: int,
    head: str,
    base: str = "main",
    *,
    head_repo: str = REPOSITORY,
    action: str = "synchronize",
) -> dict:
    """The pull_request payload GitHub sends, with SHAs from the local branches; head_repo differs for a fork."""
    owner = REPOSITORY.split("/")[0]
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "title": f"Change from {head}",
            "html_url": f"https://github.com/{REPOSITORY}/pull/{number}",
            "head": {
                "ref": head,
                "sha": git(repo, "rev-parse", head),
                "repo": {"full_name": head_repo, "fork": head_repo != REPOSITORY},
            },
            "base": {"ref": base, "sha": git(repo, "rev-parse", base), "repo": {"full_name": REPOSITORY}},
        },
        "repository": {
            "full_name": REPOSITORY,
            "name": REPOSITORY.split("/")[1],
            "owner": {"login": owner},
            "default_branch": "main",
        },
        "sender": {"login": head_repo.split("/")[0]},
    }
