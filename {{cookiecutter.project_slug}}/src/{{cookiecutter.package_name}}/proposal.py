"""Changes a workflow proposes to the repository: commit files on a branch the workflow owns, push
it, and open ONE pull request from it (updated, the branch force-pushed, while it stays open), or
push the commit to the base branch itself.

Run in a clone whose `origin` is the GitHub repository (actions/checkout makes it so). The push
authenticates with the token for $GITHUB_SERVER_URL only, kept out of the command line and of
.git/config.
"""

import base64
import os
import subprocess
from collections.abc import Callable

from .errors import UserError
from .github import GitHub

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
TOKEN_KINDS = ("github", "app", "token")
TOKEN_KIND_HELP = (
    "what $GITHUB_TOKEN is: the workflow's own token (its pull requests start no workflow), "
    "a GitHub App's or a personal one (default: %(default)s)"
)


def git(*args: str, env: dict | None = None) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        command = next(a for a in args if not a.startswith("-") and "=" not in a)  # past any -c options
        raise UserError(f"`git {command}` failed: {lines[-1]}")
    return result.stdout.strip()


def git_config(key: str) -> str:
    result = subprocess.run(["git", "config", key], capture_output=True, text=True)
    return result.stdout.strip()


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


def _commit(files: list[str], message: list[str]) -> None:
    identity = []
    if not git_config("user.email"):  # a runner has no identity: commit as the Actions bot
        identity = ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}"]
    git("add", "--", *files)
    git(*identity, "commit", "--quiet", *(arg for paragraph in message for arg in ("-m", paragraph)))


def commit_and_push(files: list[str], branch: str, remote: str, message: list[str], token: str) -> str:
    """Commit `files` as they are in the work tree onto `branch`, started from HEAD; force-push it."""
    git("switch", "--quiet", "-C", branch)
    _commit(files, message)
    git("push", "--quiet", "--force", remote, f"HEAD:refs/heads/{branch}", env=push_env(token))
    return git("rev-parse", "HEAD")


def commit_on_latest(
    change: Callable[[], tuple[list[str], list[str]]], base: str, branch: str, remote: str, token: str
) -> str | None:
    """Make `change` on top of `remote`'s `base` as it is now (it writes files and returns their
    paths and the commit message), commit it and push it to `branch`; None when the files stay as
    they were. A branch of its own is force-pushed, unless it already holds this very tree (a push
    would dismiss its pull request's approvals for nothing); a push to `base` itself that lost a
    race with another push is made again on top of the new `base`."""
    env = push_env(token)
    for _ in range(3):
        git("fetch", "--quiet", remote, f"refs/heads/{base}", env=env)
        git("switch", "--quiet", "--force-create", f"proposal/{branch}", "FETCH_HEAD")
        files, message = change()
        if not git("status", "--porcelain", "--", *files):
            return None
        _commit(files, message)
        if branch != base and (same := _same_tree(remote, branch, env)):
            return same
        force = ["--force"] if branch != base else []
        pushed = subprocess.run(
            ["git", "push", "--quiet", *force, remote, f"HEAD:refs/heads/{branch}"],
            capture_output=True,
            text=True,
            env=env,
        )
        if pushed.returncode == 0:
            return git("rev-parse", "HEAD")
        if force or "rejected" not in pushed.stderr:
            lines = pushed.stderr.strip().splitlines() or ["no output"]
            raise UserError(f"`git push` to {branch} failed: {lines[-1]}")
    raise UserError(f"{base} kept moving while this pushed to it; run the workflow again.")


def _same_tree(remote: str, branch: str, env: dict) -> str | None:
    """The commit `branch` holds on `remote` when its files are exactly those of HEAD."""
    fetched = subprocess.run(
        ["git", "fetch", "--quiet", remote, f"refs/heads/{branch}"], capture_output=True, text=True, env=env
    )
    if fetched.returncode != 0:  # no such branch yet
        return None
    if git("rev-parse", "FETCH_HEAD^{tree}") != git("rev-parse", "HEAD^{tree}"):
        return None
    return git("rev-parse", "FETCH_HEAD")


def open_or_update(
    github: GitHub, branch: str, base: str, title: str, text: str, hint: str
) -> tuple[str, dict]:
    """Update the open pull request from `branch`, or open it; `hint` follows a refusal to open one."""
    pulls = github.list("/pulls", {"state": "open", "head": f"{github.owner}:{branch}"})
    if pulls:
        pull = github.request("PATCH", f"/pulls/{pulls[0]['number']}", {"title": title, "body": text})
        return "updated", pull
    try:
        pull = github.request("POST", "/pulls", {"title": title, "head": branch, "base": base, "body": text})
    except UserError as exc:
        raise UserError(
            f"{exc} The branch {branch} is pushed; if the token is the workflow's own, allow GitHub "
            f"Actions to create pull requests (Settings > Actions > General) or {hint}."
        ) from exc
    return "opened", pull


GITHUB_TOKEN_NOTE = (
    "> [!NOTE]\n> Opened with the workflow's GITHUB_TOKEN, so GitHub started no checks for it: "
    "close and reopen this pull request to run pr.yml, or configure the GitHub App or token "
    "described in `{workflow}`.\n"
)
