"""The write job of template-update.yml (`propose`): its steps that apply the patch the read-only job
uploaded and push it, run for real against a local bare repository (the push) and a stand-in for
the GitHub CLI (`gh`, not installed here and needing github.com)."""

import json
import subprocess
from pathlib import Path

import pytest

from .workflow_steps import run_step

APPLY, PUSH = "Apply the update", "Push the branch and open or update the pull request"
REPO = "acme/demo"
# Stand-in for `gh`: records each call, insists on a token, a --repo and an existing body file,
# and answers the calls the step makes as GitHub would.
GH_STANDIN = r"""#!/usr/bin/env bash
set -euo pipefail
[ -n "${GH_TOKEN:-}" ] || { echo "gh stand-in: no GH_TOKEN" >&2; exit 4; }
printf '%s\n' "$*" >> "$GH_STANDIN_LOG"
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = --body-file ] && [ ! -f "${args[$((i + 1))]}" ]; then echo "gh stand-in: no body file" >&2; exit 1; fi
done
[[ " $* " == *" --repo $GH_STANDIN_REPO "* ]] || { echo "gh stand-in: --repo $GH_STANDIN_REPO missing" >&2; exit 1; }
case "$1 $2" in
  "pr list") echo "${GH_STANDIN_OPEN_PR:-}" ;;
  "pr view") echo "${GH_STANDIN_PR_COMMITS:-1}" ;;
  "pr create") echo "https://github.com/$GH_STANDIN_REPO/pull/7" ;;
  "pr edit") echo "https://github.com/$GH_STANDIN_REPO/pull/$3" ;;
  *) echo "gh stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
"""


def artifact(project, directory: Path, *, workflows: bool) -> None:
    """What the `update` job uploads: the update as one patch (a new file, a .rej) and the body."""
    (project.path / "NOTES.md").write_text("From the template.\n")
    (project.path / "Makefile.rej").write_text("@@ a hunk that did not apply @@\n")
    if workflows:
        with open(project.path / ".github/workflows/pr.yml", "a") as handle:
            handle.write("# changed by the template\n")
    project.run("git", "add", "-A")
    directory.mkdir(exist_ok=True)
    (directory / "update.patch").write_text(project.run("git", "diff", "--cached", "--binary", "HEAD").stdout)
    (directory / "body.md").write_text("Changes of the template.\n")
    project.run("git", "reset", "--quiet", "--hard")  # the write job's fresh checkout


@pytest.fixture
def updated(baked, tmp_path):
    """A committed project, the update job's artifact, a remote to push to and the stand-in."""
    project = baked()
    project.commit("generated")
    short = json.loads(project.read(".cruft.json"))["commit"][:12]
    body = tmp_path / "template-update" / "body.md"
    remote = tmp_path / "server" / f"{REPO}.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_STANDIN)
    (bin_dir / "gh").chmod(0o755)
    log = tmp_path / "gh.log"
    log.write_text("")

    def run(workflows: bool = False, **env: str):
        artifact(project, body.parent, workflows=workflows)
        apply = run_step(project, "template-update.yml", APPLY, tmp_path)
        assert apply.result.returncode == 0, apply.result.stderr
        step_env = {
            "GH_TOKEN": "token-of-the-run", "TOKEN_KIND": "github", "BASE": "main", "REPO": REPO,
            "SERVER": (tmp_path / "server").as_uri(), "GH_STANDIN_LOG": str(log), "GH_STANDIN_REPO": REPO,
            "PATH": f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}",
        }  # fmt: skip
        step = run_step(project, "template-update.yml", PUSH, tmp_path, **{**step_env, **env})
        return step, log.read_text().splitlines()

    run.body, run.remote, run.short = body, remote, short
    return run


def pushed(remote: Path) -> str:
    """The subject of the pushed commit and the files it changed; empty when nothing was pushed."""
    result = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%s", "--name-status", "template-update"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.strip()


def test_update_is_pushed_and_a_pull_request_opened(updated):
    step, calls = updated()
    assert step.result.returncode == 0, step.result.stderr
    assert pushed(updated.remote).splitlines() == [
        f"Update from the template ({updated.short})",
        "",
        "A\tMakefile.rej",
        "A\tNOTES.md",
    ]
    assert calls[0].startswith(f"pr list --repo {REPO} --head template-update --state open")
    assert calls[1] == (
        f"pr create --repo {REPO} --base main --head template-update --title Update from the template "
        f"--body-file {updated.body}"
    )
    assert "pull request #7 proposes the update" in step.summary
    assert "GitHub started no checks for it: close and reopen" in updated.body.read_text()


def test_open_pull_request_is_refreshed(updated):
    step, calls = updated(GH_STANDIN_OPEN_PR="5", TOKEN_KIND="app")
    assert step.result.returncode == 0, step.result.stderr
    assert pushed(updated.remote).startswith(f"Update from the template ({updated.short})")
    assert calls[-1] == f"pr edit 5 --repo {REPO} --body-file {updated.body}"
    assert "GITHUB_TOKEN" not in updated.body.read_text()  # an app's pull request starts the checks


def test_a_resolution_in_progress_is_not_overwritten(updated):
    step, calls = updated(GH_STANDIN_OPEN_PR="5", GH_STANDIN_PR_COMMITS="2")
    assert step.result.returncode == 0, step.result.stderr
    assert pushed(updated.remote) == ""
    assert "pull request #5 has commits beyond the update" in step.summary
    assert not any(call.startswith(("pr create", "pr edit")) for call in calls)


def test_workflow_changes_need_a_token_that_may_push_them(updated):
    step, calls = updated(workflows=True)
    assert step.result.returncode == 1
    assert "GitHub does not let the workflow's GITHUB_TOKEN push workflow files" in step.summary
    assert (calls, pushed(updated.remote)) == ([], "")
    step, calls = updated(workflows=True, TOKEN_KIND="app")
    assert step.result.returncode == 0, step.result.stderr
    assert pushed(updated.remote).startswith(f"Update from the template ({updated.short})")
