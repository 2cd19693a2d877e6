"""Packaging: the service and the @champion model into a Bento, the unit that is containerized.

The Bento's build configuration is [tool.bentoml.build] in pyproject.toml; its Python packages
are the `serve` dependency group pinned to the versions in uv.lock.
"""

import shutil
import subprocess
from pathlib import Path

from .errors import UserError
from .tracking import connect

REQUIREMENTS = Path("build/bento-requirements.txt")  # named in [tool.bentoml.build.python]


def export_requirements(out: Path = REQUIREMENTS) -> Path:
    """Pin the service's packages to uv.lock, so the image runs what was tested."""
    if not Path("uv.lock").is_file():
        raise UserError("uv.lock not found; run `make setup` (uv sync) and commit uv.lock.")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["uv", "export", "--quiet", "--frozen", "--only-group", "serve", "--no-emit-project"]
    command += ["--no-hashes", "--no-header", "--no-annotate", "--output-file", str(out)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise UserError(
            "uv not found on PATH; install it (docs.astral.sh/uv) or run this with `uv run`."
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise UserError(f"`{' '.join(command)}` failed: {exc.stderr.strip()}") from exc
    return out


def import_champion(params: dict):
    """Copy models:/<name>@champion into the local BentoML model store; returns the stored model."""
    import bentoml
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    from .service import MLFLOW_MODEL_DIR, model_store_name

    mlflow = connect(params)
    name = params["mlflow"]["registered_model"]
    try:
        champion = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    except MlflowException as exc:
        raise UserError(f"{name} has no @champion yet; run `register` and `promote` first.") from exc
    stored = bentoml.mlflow.import_model(
        model_store_name(name),
        f"models:/{name}/{champion.version}",
        labels={"registered_model": name, "model_version": str(champion.version)},
        metadata={"git_commit": champion.tags.get("git.commit", ""), "run_id": champion.run_id or ""},
    )
    # Fail here, not in the service, if the model cannot be loaded from the store.
    mlflow.sklearn.load_model(stored.path_of(MLFLOW_MODEL_DIR))
    return stored


def export_context(tag: str, out: Path) -> Path:
    """The Bento with its models as a directory: a Docker build context with env/docker/Dockerfile."""
    import bentoml

    out = out.resolve()  # BentoML reads a relative path as one from the root of the file system
    shutil.rmtree(out, ignore_errors=True)
    # A folder export copies the models in, as the .bento archive would, with no archive to unpack.
    bentoml.export_bento(tag, f"{out}/", output_format="folder")
    return out


def build(params: dict) -> tuple[str, str]:
    """Build the Bento of the current @champion; returns (bento tag, model version)."""
    import bentoml

    export_requirements()
    stored = import_champion(params)
    version = stored.info.labels["model_version"]
    bento = bentoml.bentos.build_bentofile(
        build_ctx=".",
        labels={"model_version": version, "git_commit": stored.info.metadata["git_commit"]},
        args={"model": str(stored.tag)},
    )
    return str(bento.tag), version
