"""The drift check's data on a runner: the current data and the reference, each from where it is.

Current data: `--current` (the drift workflow passes the repository variable DRIFT_CURRENT), else
params.yaml drift.current: a CSV/parquet file or a directory of prediction logs, in the repository
or tracked by DVC (then pulled), or the service's log under an object-store prefix (s3://, gs://,
az://; the window's files are copied into data/current-log/ with the job's cloud credentials).
Nothing configured is an error: a runner has no service log.

Reference: the training data of the current model and the model (drift.reference, drift.model),
pulled from the DVC remote as dvc.lock records them. When the remote cannot be used, the stages
that write them are reproduced from source, and the job summary says whether that gave the
training data dvc.lock records or today's source data (the source changed since training).
"""

import os
import subprocess
import sys
from pathlib import Path

from .drift import settings
from .errors import UserError
from .github import add_summary, set_outputs
from .monitoring import is_url
from .pipeline import LOCK_PATH, committed, lock_hashes, stages_writing
from .prediction_log import fetch_window
from .tracking import file_md5


def add_arguments(parser) -> None:
    parser.add_argument(
        "--current",
        help="production data: a file or log directory in the repository or tracked by DVC "
        "(default: drift.current)",
    )
    parser.add_argument(
        "--credential",
        metavar="ENV",
        help="environment variable holding the DVC remote's credential; when it is empty the "
        "remote is not tried",
    )
    parser.add_argument(
        "--credential-source",
        default="",
        metavar="TEXT",
        help="where that credential comes from, for the summary (default: secret `ENV`)",
    )


def dvc(*args: str) -> tuple[bool, str]:
    """Run a DVC command of this environment: (succeeded, its output)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    return proc.returncode == 0, proc.stdout + proc.stderr


def first_error(output: str) -> str:
    """DVC's reason in one line."""
    if "cache files do not exist neither locally nor on remote" in output:
        return "the remote does not have them: not pushed yet, or a remote this runner cannot reach"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = next((x for x in lines if x.startswith("ERROR")), lines[-1] if lines else "no output")
    return line.removeprefix("ERROR:").strip().rstrip(":")


def remote_unusable(credential: str | None, source: str = "") -> str:
    """Why the DVC remote cannot be used, or "" when it is worth trying."""
    if credential and not os.environ.get(credential):
        return f"credentials ({source or f'secret `{credential}`'}) are not set"
    return ""


def _fail(what: str, message: str) -> UserError:
    add_summary(f"**{what}:** {message}")
    return UserError(message)


FETCHED_LOG = Path("data/current-log")  # the window of an object-store log, copied for the check


def fetched_log(url: str, source: str, window_days: int | None) -> Path:
    """The window of the prediction log under `url`, copied into FETCHED_LOG (emptied first)."""
    for stale in FETCHED_LOG.glob("*"):
        stale.unlink()
    try:
        copies = fetch_window(url, window_days, FETCHED_LOG)
    except UserError as exc:
        raise _fail("Current data", str(exc)) from exc
    except Exception as exc:  # the store's own errors (credentials, bucket, network) differ per cloud
        raise _fail(
            "Current data",
            f"the prediction log under {url} ({source}) could not be read ({type(exc).__name__}: "
            f"{str(exc).strip() or 'no detail'}); check the URL and this job's cloud credentials.",
        ) from exc
    if not copies:
        raise _fail(
            "Current data",
            f"{url} ({source}) holds no predictions-*.jsonl files; point it at the prefix the service "
            "logs to (its MONITORING_DIR).",
        )
    days = f"the last {window_days} days" if window_days else "all days"
    add_summary(
        f"**Current data:** the prediction log under `{url}` ({source}): {len(copies)} file(s) of {days}, "
        "copied from the object store."
    )
    return FETCHED_LOG


def current_data(given: str | None, cfg: dict, unusable: str) -> Path:
    name, source = given, "repository variable `DRIFT_CURRENT`"
    if not given:
        name, source = cfg["current"], "params.yaml `drift.current`"
    if not name:
        raise _fail(
            "Current data",
            "no current data is configured, so there is nothing to check; set the repository variable "
            "DRIFT_CURRENT (or drift.current in params.yaml) to production data in the repository or "
            "tracked by DVC.",
        )
    if is_url(name):
        return fetched_log(name, source, cfg["window_days"])
    path = Path(name)
    if path.exists():
        where = "from the repository"
    elif unusable:
        raise _fail(
            "Current data",
            f"{name} ({source}) is not in the repository and cannot be pulled: the DVC remote's {unusable}.",
        )
    else:
        pulled, output = dvc("pull", name)
        if not pulled or not path.exists():
            raise _fail(
                "Current data",
                f"{name} ({source}) is neither in the repository nor pulled from the DVC remote "
                f"({first_error(output)}); check the path.",
            )
        where = "pulled from the DVC remote"
    add_summary(f"**Current data:** `{name}` ({source}), {where}.")
    return path


def reference_data(cfg: dict, unusable: str) -> str:
    """Pull the reference and the model, else reproduce them; "pulled" or "reproduced"."""
    reference = cfg["reference"]
    targets = [reference] + ([cfg["model"]] if cfg["model"] else [])
    names = " and ".join(f"`{t}`" for t in targets)
    reason = unusable and f"its {unusable}"
    if not reason:
        pulled, output = dvc("pull", *targets)
        if pulled:
            add_summary(
                f"**Reference:** {names} pulled from the DVC remote as dvc.lock records them: "
                "the data the current model was trained on."
            )
            return "pulled"
        reason = first_error(output)
    stages = stages_writing(targets)
    if not stages_writing([reference]):
        raise _fail(
            "Reference",
            f"{reference} could not be pulled from the DVC remote ({reason}) and no stage of dvc.yaml "
            "writes it; make the remote reachable, or point drift.reference at the training data.",
        )
    command = f"dvc repro {' '.join(stages)}"
    reproduced, output = dvc("repro", *stages)
    if not reproduced:
        raise _fail("Reference", f"`{command}` failed: {first_error(output)}")
    recorded = lock_hashes(committed(LOCK_PATH)).get(reference)
    if recorded is None:
        match = "dvc.lock records no hash of it to compare with."
    elif recorded == file_md5(Path(reference)):
        match = "It is the training data dvc.lock records."
    else:
        match = (
            "\n\n> [!WARNING]\n> It differs from the training data dvc.lock records: the source changed "
            "since the current model was trained, so this compares production data with today's source "
            "data, not with the model's training data. Make the DVC remote reachable from this workflow "
            "to compare with the training data itself."
        )
    add_summary(
        f"**Reference:** reproduced from source with `{command}`, as the DVC remote could not be used "
        f"({reason}). {match}"
    )
    return "reproduced"


def run(params: dict, current: str | None, credential: str | None, source: str = "") -> int:
    """The `drift-data` command: current data first (nothing to do without it), then the reference."""
    cfg = settings(params)
    unusable = remote_unusable(credential, source)
    path = current_data(current or None, cfg, unusable)
    how = reference_data(cfg, unusable)
    print(f"current data: {path}; reference: {cfg['reference']} ({how})")
    set_outputs(current=path, reference=how)
    return 0
