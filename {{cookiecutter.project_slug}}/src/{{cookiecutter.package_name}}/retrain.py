"""The retraining pull request: after the drift workflow re-ran the pipeline on a fresh ingest of
the source, its results (dvc.lock, metrics, plots) go to the branch `retrain-on-drift` and ONE pull
request from it (see proposal.py). The branch belongs to the workflow: commit review changes elsewhere.

Nothing is proposed when dvc.lock did not change: the source has no new data since the current
model was trained, and training on the same data again gives the same model.

Run after `dvc repro`, in a clone whose `origin` is the GitHub repository.
"""

import json
import os
from pathlib import Path

from .errors import UserError
from .github import GitHub, add_summary, run_url, set_outputs
from .pipeline import LOCK_PATH, committed, lock_hashes, outputs
from .proposal import GITHUB_TOKEN_NOTE, TOKEN_KIND_HELP, TOKEN_KINDS, commit_and_push, git, open_or_update

BRANCH = "retrain-on-drift"
TITLE = "Retrain on new data after drift"


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
        help=TOKEN_KIND_HELP,
    )


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
        sections.append(GITHUB_TOKEN_NOTE.format(workflow=".github/workflows/drift.yml"))
    return "\n".join(sections)


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
    hint = "configure the token described in drift.yml"
    action, pull = open_or_update(github, branch, base, TITLE, text, hint)
    url = pull.get("html_url", "")
    line = f"{action} pull request #{pull['number']} ({url}) from {branch} at {commit[:7]}"
    print(line)
    add_summary(f"**Retraining:** {line}.")
    set_outputs(proposed="true", pull=pull["number"])
    return 0
