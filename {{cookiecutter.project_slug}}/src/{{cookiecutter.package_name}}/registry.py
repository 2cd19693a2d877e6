"""The model registry: register the pipeline's model, gate its promotion, roll back, show.

MLflow aliases carry the state: `champion` is what the service serves, `previous-champion`
what it served before, `challenger` the last version that lost the gate.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import joblib

from .errors import UserError
from .features import read_frame, split_xy
from .metrics import METRICS_PATH, compute_metrics, improvement
from .params import positive_class
from .registry_lock import RegistryLock
from .split import TEST_PATH, TRAIN_PATH
from .tracking import MODEL_ARTIFACT, connect, file_md5, git_lineage, log_run, run_of_model, tracking_uri
from .train import MODEL_PATH

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous-champion", "challenger"
NOT_PROMOTED = 3  # exit status of `promote` when the champion stays: a decision, not a failure


def _registry(params: dict):
    mlflow = connect(params)
    return mlflow, mlflow.MlflowClient(), params["mlflow"]["registered_model"]


def _require(*paths: Path) -> None:
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path} not found; run the pipeline first (`dvc repro`, or `dvc pull` then it).")


def _alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:  # no such alias, or no such registered model yet; else: raised
        if exc.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            return None
        raise


def _version(client, name: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            raise UserError(f"version {version} of {name} not found; `show` lists the versions.") from exc
        raise


def _workspace_version(client, name: str, md5: str):
    """The version holding this exact model file, if any: each distinct model is registered once.

    A creation whose answer was lost and was retried can leave two; the first is kept, and a later
    one without an alias is deleted.
    """
    found = sorted(
        client.search_model_versions(f"name = '{name}' and tags.`model.md5` = '{md5}'"),
        key=lambda v: int(v.version),
    )
    for extra in found[1:]:
        if not extra.aliases:
            client.delete_model_version(name, extra.version)
    return found[0] if found else None


def _require_loadable(mlflow, client, name: str, version: str) -> None:
    """A version whose model files are incomplete (an upload cut short) must never serve."""
    uri = client.get_model_version_download_uri(name, version)
    if not any(Path(f.path).name == "MLmodel" for f in mlflow.artifacts.list_artifacts(artifact_uri=uri)):
        raise UserError(
            f"version {version} of {name} has no MLmodel file at {uri}, so it cannot be loaded; "
            "choose another version (`show` lists them)."
        )


@contextmanager
def _locked(client, name: str, params: dict, lock: RegistryLock | None):
    """Hold the registry lock (or the caller's), completing an interrupted command's writes first."""
    if lock is not None:
        yield lock
        return
    with RegistryLock(client, name, (params.get("promotion") or {}).get("lock_seconds")) as lock:
        lock.completed = lock.complete_pending()
        yield lock


def _run_for_model(mlflow, params: dict, schema: dict, md5: str) -> str:
    """The run that logged this exact model file; logged now if there is none (outputs from a DVC cache)."""
    run = run_of_model(mlflow, params, md5)
    if run:
        return run.info.run_id
    model = joblib.load(MODEL_PATH)
    x, y = split_xy(read_frame(TEST_PATH, schema), schema)
    return log_run(
        params,
        compute_metrics(params["task"], model, x, y, positive_class(params, schema)),
        model,
        example=x.head(5),
        artifacts=[METRICS_PATH] if METRICS_PATH.is_file() else [],
        data={"train": TRAIN_PATH, "test": TEST_PATH},
        model_path=MODEL_PATH,
    )


def register(params: dict, schema: dict, lock: RegistryLock | None = None) -> tuple[str, bool]:
    """Register models/model.joblib as a version; returns (version, whether it was created now).

    A model already registered (same file hash, e.g. this commit again, or a commit that left the
    model unchanged) is found and reused, so the workflow can run again safely.
    """
    _require(MODEL_PATH, TRAIN_PATH, TEST_PATH)
    mlflow, client, name = _registry(params)
    md5, lineage = file_md5(MODEL_PATH), git_lineage()
    existing = _workspace_version(client, name, md5)
    if existing:
        return str(existing.version), False
    run = client.get_run(_run_for_model(mlflow, params, schema, md5))
    tags = {
        **lineage,
        "model.md5": md5,
        "data.train.md5": file_md5(TRAIN_PATH),  # the hash dvc.lock records for the training data
        "data.test.md5": file_md5(TEST_PATH),
        "run_id": run.info.run_id,
        **{f"param.{k}": v for k, v in run.data.params.items()},
        **{f"metric.{k}": f"{v:g}" for k, v in run.data.metrics.items()},
    }
    # MLflow 3 keeps a run's model as a logged model of its own: register that, not the run's path.
    outputs = run.outputs.model_outputs if run.outputs else []
    uri = f"models:/{outputs[0].model_id}" if outputs else f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}"
    with _locked(client, name, params, lock) as held:
        existing = _workspace_version(client, name, md5)  # registered by another command meanwhile
        if existing:
            return str(existing.version), False
        held.check()
        mlflow.register_model(uri, name, tags=tags)  # tags in the same request: all or none
        return str(_workspace_version(client, name, md5).version), True


def release(params: dict, schema: dict) -> tuple[str, bool, "Decision"]:
    """register then promote, under one hold of the registry lock."""
    _require(MODEL_PATH, TRAIN_PATH, TEST_PATH)
    mlflow, client, name = _registry(params)
    md5 = file_md5(MODEL_PATH)
    if _workspace_version(client, name, md5) is None:
        _run_for_model(mlflow, params, schema, md5)  # before the lock: logging a model takes a while
    with _locked(client, name, params, None) as lock:
        version, created = register(params, schema, lock)
        return version, created, promote(params, schema, version, lock)


@dataclass
class Decision:
    """The gate's verdict on one version, with the numbers it was based on."""

    name: str
    version: str
    promoted: bool
    reasons: list[str]
    metric: str
    new: dict[str, float]
    champion: str | None = None
    old: dict[str, float] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)
    rows: int = 0

    @property
    def headline(self) -> str:
        verdict = "promoted to champion" if self.promoted else "not promoted"
        line = f"version {self.version} of {self.name} {verdict}: {self.metric} {self.new[self.metric]:g}"
        if self.old:
            line += f" vs {self.old[self.metric]:g} of champion version {self.champion}"
        return f"{line}; {'; '.join(self.reasons)}."

    def markdown(self) -> str:
        columns = ["metric", f"version {self.version} (new)"]
        if self.old:
            columns.append(f"version {self.champion} (champion)")
        columns.append("floor")
        lines = [
            f"### Model promotion: {'promoted' if self.promoted else 'not promoted'}",
            "",
            f"Evaluated on the current `{TEST_PATH}` ({self.rows} rows).",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + " --- |" * len(columns),
        ]
        for metric, value in self.new.items():
            cells = [f"**{metric}**" if metric == self.metric else metric, f"{value:g}"]
            if self.old:
                cells.append(f"{self.old[metric]:g}" if metric in self.old else "")
            cells.append(_floor_text(metric, self.floors[metric]) if metric in self.floors else "")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join([*lines, "", self.headline[0].upper() + self.headline[1:]])


def _floor_text(metric: str, floor: float) -> str:
    return f"{'≥' if improvement(metric, 1, 0) > 0 else '≤'} {floor:g}"


def _gate(params: dict, new: dict[str, float], old: dict[str, float]) -> list[str]:
    """Reasons against promotion; empty when the version may become champion."""
    promotion = params.get("promotion") or {}
    metric = params["evaluate"]["primary_metric"]
    against = []
    for name, floor in (promotion.get("floors") or {}).items():
        if name not in new:
            raise UserError(
                f"params.yaml promotion.floors names {name!r}, which this task does not measure; "
                f"use some of: {', '.join(new)}."
            )
        if improvement(name, new[name], floor) < 0:
            against.append(f"{name} {new[name]:g} is worse than its floor {_floor_text(name, floor)}")
    if old:
        gain = round(improvement(metric, new[metric], old[metric]), 6)
        needed = float(promotion.get("min_improvement", 0))
        if gain <= 0 or gain < needed:
            against.append(f"{metric} improves by {gain:g}, less than promotion.min_improvement {needed:g}")
    return against


def _score(mlflow, uri: str, params: dict, schema: dict, x, y) -> dict[str, float]:
    return compute_metrics(
        params["task"], mlflow.sklearn.load_model(uri), x, y, positive_class(params, schema)
    )


def promote(
    params: dict, schema: dict, version: str | None = None, lock: RegistryLock | None = None
) -> Decision:
    """Evaluate a version against @champion on the current test split and move the aliases."""
    _require(TEST_PATH)
    mlflow, client, name = _registry(params)
    if version is None:
        _require(MODEL_PATH)
        found = _workspace_version(client, name, file_md5(MODEL_PATH))
        if found is None:
            raise UserError(f"{MODEL_PATH} is not a version of {name} yet; run `register` first.")
        version = found.version
    metric = params["evaluate"]["primary_metric"]
    x, y = split_xy(read_frame(TEST_PATH, schema), schema)
    with _locked(client, name, params, lock) as held:
        candidate = str(_version(client, name, version).version)
        _require_loadable(mlflow, client, name, candidate)
        champion = _alias(client, name, CHAMPION)
        new = _score(mlflow, f"models:/{name}/{candidate}", params, schema, x, y)
        decision = Decision(
            name, candidate, False, [], metric, new, rows=len(x),
            floors=dict((params.get("promotion") or {}).get("floors") or {}),
        )  # fmt: skip
        if champion is not None and str(champion.version) == candidate:
            decision.promoted, decision.champion = True, candidate
            decision.reasons = ["it already is the champion"]
            return decision
        if champion is not None:
            decision.champion = str(champion.version)
            try:
                decision.old = _score(mlflow, f"models:/{name}/{champion.version}", params, schema, x, y)
            except (KeyError, ValueError) as exc:  # the features changed since the champion was trained
                raise UserError(
                    f"champion version {champion.version} cannot score the current {TEST_PATH} ({exc}); "
                    f"if the features changed on purpose, make version {candidate} champion with "
                    f"`rollback --version {candidate}`."
                ) from exc
        against = _gate(params, new, decision.old)
        if against:
            decision.reasons = against
            held.write("promote", {CHALLENGER: candidate}, [], {candidate: {"promotion": "rejected"}})
            return decision
        aliases = {PREVIOUS: decision.champion} if champion is not None else {}
        challenger = _alias(client, name, CHALLENGER)
        drop = [CHALLENGER] if challenger is not None and str(challenger.version) == candidate else []
        tags = {"promotion": "promoted", "promotion.replaced": decision.champion or "none"}
        held.write("promote", {**aliases, CHAMPION: candidate}, drop, {candidate: tags})
        decision.promoted = True
        decision.reasons = ["every floor passed" + (" and it beats the champion" if champion else "")]
        return decision


def rollback(params: dict, to: str | None = None) -> tuple[str, str]:
    """Make `to` (default: @previous-champion) the champion; returns (new, old) champion versions."""
    mlflow, client, name = _registry(params)
    with _locked(client, name, params, None) as held:
        done = held.completed  # a rollback cut short is finished, not rolled back once more
        if done and done["op"] == "rollback" and to in (None, done["aliases"][CHAMPION]):
            return done["aliases"][CHAMPION], done["aliases"][PREVIOUS]
        champion = _alias(client, name, CHAMPION)
        if champion is None:
            raise UserError(f"{name} has no champion to roll back from; promote a version first.")
        if to is None:
            previous = _alias(client, name, PREVIOUS)
            if previous is None:
                raise UserError(f"{name} has no previous-champion; name the version: `rollback --version N`.")
            to = previous.version
        target = str(_version(client, name, to).version)
        if target == str(champion.version):
            raise UserError(f"version {target} already is the champion of {name}; `show` lists the versions.")
        _require_loadable(mlflow, client, name, target)
        old = str(champion.version)
        held.write("rollback", {CHAMPION: target, PREVIOUS: old}, [], {})
        return target, old


def show(params: dict) -> str:
    """Every version with its aliases, lineage and metrics, newest first."""
    _, client, name = _registry(params)
    versions = sorted(
        client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version), reverse=True
    )
    if not versions:
        return f"{name} has no registered versions yet; `register` adds the pipeline's model."
    aliases: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(name).aliases.items():
        aliases.setdefault(str(number), []).append(alias)
    metrics = sorted({k.removeprefix("metric.") for v in versions for k in v.tags if k.startswith("metric.")})
    header = ["version", "aliases", "commit", "branch", *metrics]
    rows = [
        [
            v.version,
            ",".join(sorted(aliases.get(str(v.version), []))) or "-",
            v.tags.get("git.commit", "?")[:7],
            v.tags.get("git.branch", "?"),
            *(v.tags.get(f"metric.{m}", "-") for m in metrics),
        ]
        for v in versions
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return (
        "\n".join(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        )
        + f"\n\n{name} at {tracking_uri(params)}"
    )
