"""MLflow tracking: every training run with its parameters, metrics, plots, model and lineage."""

import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from .errors import UserError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # embedded default: a file beside the code, no server
MODEL_ARTIFACT = "model"
# Packages the logged model needs to load and predict. Listing them skips MLflow's
# requirement inference, which re-imports the model in a subprocess and costs ~20 s.
MODEL_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


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

    mlflow.set_tracking_uri(tracking_uri(params))
    try:
        mlflow.set_experiment(params["mlflow"]["experiment"])
    except Exception as exc:  # MLflow raises many types for an unreachable or refusing server
        raise UserError(
            f"cannot reach the MLflow tracking server at {tracking_uri(params)} ({exc.__class__.__name__}); "
            "check MLFLOW_TRACKING_URI and its credentials, or unset it to use the local SQLite file."
        ) from exc
    return mlflow


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
    """The latest run that logged this exact model file (its `model.md5` tag), or None."""
    runs = mlflow.search_runs(
        experiment_names=[params["mlflow"]["experiment"]],
        filter_string=f"tags.`model.md5` = '{model_md5}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0] if runs else None
