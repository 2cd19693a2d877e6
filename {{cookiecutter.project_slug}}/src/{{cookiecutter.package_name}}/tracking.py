"""MLflow tracking: every training run with its parameters, metrics, plots, model and lineage."""

import hashlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

from .errors import UserError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # embedded default: a file beside the code, no server
MODEL_ARTIFACT = "model"
# Packages the logged model needs to load and predict. Listing them skips MLflow's
# requirement inference, which re-imports the model in a subprocess and costs ~20 s.
MODEL_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


# MLflow's own defaults (7 retries with backoff, 120 s per request) keep a command silent for minutes
# when the server is gone. With these a call gives up within about 20 s (3 tries of at most 5 s,
# 1-3 s apart), and `connect` within one timeout (see `_probe`); a variable the user sets wins.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a bar per download fills CI logs
}


def tracking_uri(params: dict) -> str:
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or (params.get("mlflow") or {}).get("tracking_uri")
        or DEFAULT_TRACKING_URI
    )


def file_md5(path: Path) -> str:
    """The hash DVC records for a file in dvc.lock, so runs can be traced to DVC data."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def git_lineage() -> dict[str, str]:
    # On GitHub a PR checkout is a detached merge commit; the event's refs name the branch.
    branch = (
        os.environ.get("GITHUB_HEAD_REF")
        or os.environ.get("GITHUB_REF_NAME")
        or _git("rev-parse", "--abbrev-ref", "HEAD")
    )
    return {
        "git.commit": os.environ.get("GITHUB_SHA") or _git("rev-parse", "HEAD") or "unknown",
        "git.branch": branch or "unknown",
        "git.dirty": str(bool(_git("status", "--porcelain", "--untracked-files=no"))).lower(),
    }


def model_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in MODEL_PACKAGES]


def trusted_types(model) -> list[str]:
    """The types skops must trust to load this model; it is our own pipeline, built by train."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def connect(params: dict):
    import mlflow
    import mlflow.sklearn  # noqa: F401  (registers the flavour used by log_run)

    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    uri = tracking_uri(params)
    mlflow.set_tracking_uri(uri)
    try:
        _probe(uri)
        mlflow.set_experiment(params["mlflow"]["experiment"])
    except Exception as exc:  # MLflow raises many types for an unreachable or refusing server
        raise UserError(
            f"cannot reach the MLflow tracking server at {uri} ({exc.__class__.__name__}); "
            "check MLFLOW_TRACKING_URI and its credentials, or unset it to use the local SQLite file."
        ) from exc
    return mlflow


def _probe(uri: str) -> None:
    """One request to an HTTP server, without retries: a server that is down or hung is found in one
    timeout, not in MLflow's three tries. Any answer will do (an auth proxy may say 401); a TLS
    failure is left to MLflow, which knows the certificates it was given."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    timeout = float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout, allow_redirects=False)
    except requests.exceptions.SSLError:
        return


def server_lost(exc: BaseException) -> UserError | None:
    """One sentence for an MLflow call that did not get an answer from the server, else None.

    Such a failure is the server's (gone, overloaded, restarting), not the command's: every registry
    command can be run again and carries on from where the registry stands. MLflow wraps it in
    errors of its own (a failed artifact download, a logged model it "failed to get"): the chain
    of causes is searched.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return None
    import requests
    from mlflow.exceptions import MlflowException, RestException

    def lost(error: BaseException) -> bool:
        if isinstance(error, requests.exceptions.RequestException):
            return True
        if isinstance(error, RestException):
            return error.get_http_status_code() >= 500
        return isinstance(error, MlflowException) and "API request to " in str(error)

    chain, error = [], exc
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    if not any(lost(error) for error in chain):
        return None
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = first if len(first) <= 200 else first[:200] + "…"
    return UserError(
        f"the MLflow tracking server at {mlflow.get_tracking_uri()} stopped answering ({reason}); "
        "run the same command again once it is back: it carries on from where the registry stands."
    )


def log_run(
    params: dict,
    metrics: dict[str, float],
    model,
    example: pd.DataFrame,
    artifacts: list[Path],
    data: dict[str, Path],
    model_path: Path,
) -> str:
    """Log one training run; returns its run id."""
    from mlflow.models import infer_signature

    from .train import train_params

    mlflow = connect(params)
    lineage = git_lineage()
    tags = {
        **lineage,
        "task": params["task"],
        "model.md5": file_md5(model_path),
        **{f"data.{name}.md5": file_md5(path) for name, path in data.items()},
    }
    run_name = f"{params['train']['model']}-{lineage['git.commit'][:7]}"
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params(train_params(params))
        mlflow.log_metrics(metrics)
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path=path.parent.name or None)  # plots/x.png -> plots/
        mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=infer_signature(example, model.predict(example)),
            input_example=example.head(3),
            pip_requirements=model_requirements(),
            skops_trusted_types=trusted_types(model),
        )
    return run.info.run_id


def recent_runs(params: dict, limit: int = 5) -> list[dict]:
    """The latest runs of the experiment, newest first, as plain rows for printing."""
    mlflow = connect(params)
    primary = params["evaluate"]["primary_metric"]
    runs = mlflow.search_runs(
        experiment_names=[params["mlflow"]["experiment"]],
        order_by=["attributes.start_time DESC"],
        max_results=limit,
        output_format="list",
    )
    return [
        {
            "run_id": run.info.run_id,
            "name": run.info.run_name,
            "commit": run.data.tags.get("git.commit", "")[:7],
            primary: run.data.metrics.get(primary),
        }
        for run in runs
    ]


def run_of_model(mlflow, params: dict, model_md5: str):
    """The latest finished run that logged this exact model file (its `model.md5` tag), or None.

    A run cut short (the server or the process died) keeps its tags but may lack its model or part
    of it: only a FINISHED run whose logged model is READY is reused.
    """
    from mlflow.entities import LoggedModelStatus

    runs = mlflow.search_runs(
        experiment_names=[params["mlflow"]["experiment"]],
        filter_string=f"tags.`model.md5` = '{model_md5}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    for run in runs:
        outputs = run.outputs.model_outputs if run.outputs else []
        if outputs and mlflow.get_logged_model(outputs[0].model_id).status == LoggedModelStatus.READY:
            return run
    return None
