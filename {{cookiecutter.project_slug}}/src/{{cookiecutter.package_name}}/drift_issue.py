"""The drift issue: ONE open issue labelled `drift` carries the reports of the drift check.

The first drifted run opens it with the report as its body; later drifted runs comment on it
while it stays open. Close it once the drift is dealt with: the next drift opens a new one.
A run without drift leaves the issue alone.
"""

import json
import urllib.parse
from pathlib import Path

from .errors import UserError
from .github import GitHub, add_summary, run_url, set_outputs

LABEL = "drift"
LABEL_COLOUR = "d93f0b"
LABEL_DESCRIPTION = "Production data drifted from the training data (drift workflow)"
TITLE = "Data drift detected"
MAX_BODY = 65_000  # GitHub refuses an issue or comment body over 65,536 characters


def add_arguments(parser) -> None:
    parser.add_argument(
        "--report",
        default="reports/drift/drift.md",
        help="markdown report of `drift`; drift.json beside it says whether it found drift "
        "(default: %(default)s)",
    )
    parser.add_argument("--label", default=LABEL, help="label of the issue (default: %(default)s)")


def read_report(path: Path) -> tuple[str, bool]:
    """The report's markdown, and whether drift.json beside it found drift (True when absent)."""
    if not path.is_file():
        raise UserError(f"{path} not found; run `drift` first (or download the drift-report artifact).")
    verdict = path.with_name("drift.json")
    drifted = True
    if verdict.is_file():
        try:
            drifted = bool(json.loads(verdict.read_text())["drift_detected"])
        except (ValueError, KeyError) as exc:
            raise UserError(f"{verdict} is not a drift report; run `drift` again to rewrite it.") from exc
    return path.read_text(encoding="utf-8"), drifted


def body(report: str, link: str) -> str:
    footer = (
        f"\nFound by [this run of the drift workflow]({link}); "
        "its `drift-report` artifact holds drift.html with every column's distributions.\n"
        if link
        else ""
    )
    if len(report) + len(footer) > MAX_BODY:
        cut = report[: MAX_BODY - len(footer) - 200].rsplit("\n", 1)[0]
        report = cut + "\n\n… (cut to GitHub's size limit; the whole report is in the artifact)\n"
    return report.rstrip("\n") + "\n" + footer


def ensure_label(github: GitHub, label: str) -> None:
    if github.request("GET", f"/labels/{urllib.parse.quote(label, safe='')}", accept=(404,)) is None:
        new = {"name": label, "color": LABEL_COLOUR, "description": LABEL_DESCRIPTION}
        github.request("POST", "/labels", new, accept=(422,))  # 422: created meanwhile by another run


def open_or_comment(github: GitHub, text: str, label: str = LABEL) -> tuple[str, dict]:
    """("opened", issue) or ("commented", issue); the oldest open issue with the label is the one."""
    ensure_label(github, label)
    found = github.list("/issues", {"state": "open", "labels": label})
    issues = sorted((i for i in found if "pull_request" not in i), key=lambda i: i["number"])
    if issues:
        issue = issues[0]
        github.request("POST", f"/issues/{issue['number']}/comments", {"body": text})
        return "commented", issue
    issue = github.request("POST", "/issues", {"title": TITLE, "body": text, "labels": [label]})
    if label not in {lb.get("name") for lb in issue.get("labels", [])}:
        raise UserError(
            f"issue #{issue['number']} was opened without the label {label!r}, so the next run would "
            "open another; give the token the right to label issues (`issues: write`)."
        )
    return "opened", issue


def run(report_path: str, label: str = LABEL) -> int:
    """The `drift-issue` command."""
    text, drifted = read_report(Path(report_path))
    if not drifted:
        print(f"{report_path}: no drift, so no issue is opened or commented on.")
        return 0
    action, issue = open_or_comment(GitHub(), body(text, run_url()), label)
    verb = "opened" if action == "opened" else "commented on"
    line = f"{verb} issue #{issue['number']} ({issue.get('html_url', '')})"
    print(line)
    add_summary(f"**Drift issue:** {line}.")
    set_outputs(issue=issue["number"], action=action)
    return 0
