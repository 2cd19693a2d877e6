"""The retraining pull request: after the drift workflow re-ran the pipeline on a fresh ingest of
the source, its results (dvc.lock, metrics, plots) go to the branch `retrain-on-drift` and ONE pull
request from it, opened the first time and updated (the branch force-pushed) while it stays open.
The branch belongs to the workflow: commit review changes elsewhere.

Nothing is proposed when dvc.lock did not change: the source has no new data since the current
model was trained, and training on the same data again gives the same model.

Run after `dvc repro`, in a clone whose `origin` is the GitHub repository (actions/checkout makes
it so). The push authenticates with $GITHUB_TOKEN for $GITHUB_SERVER_URL, kept out of the command
line and of .git/config.
"""

import base64
import json
import os
import subprocess
from pathlib import Path

from .errors import UserError
from .github import GitHub, add_summary, run_url, set_outputs
from .pipeline import LOCK_PATH, committed, lock_hashes, outputs

BRANCH = "retrain-on-drift"
TITLE = "Retrain on new data after drift"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
TOKEN_KINDS = ("github", "app", "token")


def add_arguments(parser) -> None:
    parser.add_argument(
        "--report",
        default="reports/drift/drift.md",
        help="the drift report whose verdict the pull request quotes (default: %(default)s)",
    )
    parser.add_argument(
        "--base",
        default=os.environ.get("GITHUB_REF_NAME") or "main",
        help="branch the pull request targets (default: $GITHUB_REF_NAME, else main)",
    )
    parser.add_argument("--branch", default=BRANCH, help="branch to push (default: %(default)s)")
    parser.add_argument("--remote", default="origin", help="git remote to push to (default: %(default)s)")
    parser.add_argument(
        "--token-kind",
        choices=TOKEN_KINDS,
        default="github",
        help="what $GITHUB_TOKEN is: the workflow's own token (its pull requests start no workflow), "
        "a GitHub App's or a personal one (default: %(default)s)",
    )


def git(*args: str, env: dict | None = None) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        command = next(a for a in args if not a.startswith("-") and "=" not in a)  # past any -c options
        raise UserError(f"`git {command}` failed: {lines[-1]}")
    return result.stdout.strip()


def lock_changed() -> bool:
    """Whether dvc.lock differs from the commit checked out (staged or not)."""
    return committed(LOCK_PATH) != LOCK_PATH.read_text()


def verdict(report: Path) -> str:
    """The drift report's first line, without its heading marks."""
    if not report.is_file():
        return "drift"
    first = (report.read_text(encoding="utf-8").splitlines() or [""])[0]
    return first.lstrip("#").strip().removeprefix("⚠️").strip() or "drift"


def metrics_diff(base: str, outs: dict) -> dict:
    """{file: {metric: {old, new}}} of the git-tracked metrics files, as `dvc metrics diff --json`."""
    diff = {}
    for out in outs.values():
        if out.kind != "metrics" or not Path(out.path).is_file():
            continue
        old = _numbers(committed(out.path, base))
        new = _numbers(Path(out.path).read_text())
        diff[out.path] = {k: {"old": old.get(k), "new": new.get(k)} for k in sorted(old.keys() | new.keys())}
    return diff


def _numbers(text: str | None) -> dict:
    try:
        values = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def data_diff(base: str, outs: dict) -> dict:
    """The DVC-cached outputs whose hash changed, as `dvc diff --json --show-hash`."""
    old, new = lock_hashes(committed(LOCK_PATH, base)), lock_hashes(LOCK_PATH.read_text())
    cached = {path for path, out in outs.items() if out.cached}
    diff: dict[str, list] = {"added": [], "deleted": [], "modified": []}
    for path in sorted(cached & (old.keys() | new.keys())):
        if path not in old:
            diff["added"].append({"path": path, "hash": new[path]})
        elif path not in new:
            diff["deleted"].append({"path": path, "hash": old[path]})
        elif old[path] != new[path]:
            diff["modified"].append({"path": path, "hash": {"old": old[path], "new": new[path]}})
    return diff


def compose(params: dict, base: str, found: str, token_kind: str, outs: dict) -> str:
    from .report import data_table, metrics_table  # the PR report's tables (imports the evaluation stack)

    primary = params["evaluate"]["primary_metric"]
    link = run_url()
    sections = [
        "## Retrained on new data after drift\n",
        f"The drift check reported:\n\n> {found}\n",
        "The pipeline ran again on a fresh ingest of the source (`dvc repro --force ingest`, then "
        "`dvc repro`); this pull request records its results: `dvc.lock`, the metrics and the plots. "
        "Merging it lets main.yml register the new model and the promotion gate decide whether it "
        "becomes the champion.\n",
        "### Metrics\n",
        metrics_table(metrics_diff(base, outs), primary),
        "### Data and model (DVC)\n",
        data_table(data_diff(base, outs)),
    ]
    if link:
        sections.append(f"Retrained in [this run of the drift workflow]({link}).\n")
    if token_kind == "github":
        sections.append(
            "> [!NOTE]\n> Opened with the workflow's GITHUB_TOKEN, so GitHub started no checks for it: "
            "close and reopen this pull request to run pr.yml, or configure the GitHub App or token "
            "described in `.github/workflows/drift.yml`.\n"
        )
    return "\n".join(sections)


def push_env(token: str) -> dict:
    """The environment of `git push`: the token as an HTTP header for the GitHub server only."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{basic}")
    index = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    return {
        **os.environ,
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{server}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"AUTHORIZATION: basic {basic}",
    }


def commit_and_push(files: list[str], branch: str, remote: str, message: list[str], token: str) -> str:
    identity = []
    if not git_config("user.email"):  # a runner has no identity: commit as the Actions bot
        identity = ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}"]
    git("switch", "--quiet", "-C", branch)
    git("add", "--", *files)
    git(*identity, "commit", "--quiet", *(arg for paragraph in message for arg in ("-m", paragraph)))
    git("push", "--quiet", "--force", remote, f"HEAD:refs/heads/{branch}", env=push_env(token))
    return git("rev-parse", "HEAD")


def git_config(key: str) -> str:
    result = subprocess.run(["git", "config", key], capture_output=True, text=True)
    return result.stdout.strip()


def open_or_update(github: GitHub, branch: str, base: str, text: str) -> tuple[str, dict]:
    pulls = github.list("/pulls", {"state": "open", "head": f"{github.owner}:{branch}"})
    if pulls:
        pull = github.request("PATCH", f"/pulls/{pulls[0]['number']}", {"title": TITLE, "body": text})
        return "updated", pull
    try:
        pull = github.request("POST", "/pulls", {"title": TITLE, "head": branch, "base": base, "body": text})
    except UserError as exc:
        raise UserError(
            f"{exc} The branch {branch} is pushed; if the token is the workflow's own, allow GitHub "
            "Actions to create pull requests (Settings > Actions > General) or configure the token "
            "described in drift.yml."
        ) from exc
    return "opened", pull


def run(params: dict, report: str, base: str, branch: str, remote: str, token_kind: str) -> int:
    """The `retrain-pr` command."""
    if not LOCK_PATH.is_file():
        raise UserError(f"{LOCK_PATH} not found; run `dvc repro` before proposing its results.")
    if not lock_changed():
        message = (
            f"{LOCK_PATH} is unchanged: the source has no new data since the current model was trained, "
            "so there is nothing to propose."
        )
        print(message)
        add_summary(f"**Retraining:** {message}")
        set_outputs(proposed="false")
        return 0
    github = GitHub()  # checks the token and repository before anything is committed
    outs = outputs()
    head = git("rev-parse", "HEAD")
    found = verdict(Path(report))
    text = compose(params, head, found, token_kind, outs)
    files = [str(LOCK_PATH)] + [o.path for o in outs.values() if not o.cached and Path(o.path).exists()]
    commit = commit_and_push(files, branch, remote, [TITLE, f"Drift check: {found}"], github.token)
    action, pull = open_or_update(github, branch, base, text)
    url = pull.get("html_url", "")
    line = f"{action} pull request #{pull['number']} ({url}) from {branch} at {commit[:7]}"
    print(line)
    add_summary(f"**Retraining:** {line}.")
    set_outputs(proposed="true", pull=pull["number"])
    return 0
