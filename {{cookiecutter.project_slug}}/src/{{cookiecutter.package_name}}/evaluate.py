"""The evaluate stage: metrics.json and plots of the model on the held-out test set."""

import json
from pathlib import Path

import joblib
import matplotlib

matplotlib.use("Agg")  # files only; CI runners have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn import metrics as skm  # noqa: E402  (the plots' Display classes)
from sklearn.inspection import permutation_importance  # noqa: E402

from .atomic import replacing  # noqa: E402
from .errors import UserError  # noqa: E402
from .features import read_frame, split_xy  # noqa: E402
from .metrics import METRICS_PATH, PLOTS_DIR, compute_metrics  # noqa: E402
from .params import positive_class  # noqa: E402
from .split import TEST_PATH, TRAIN_PATH  # noqa: E402
from .train import MODEL_PATH  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def importances(model, x: pd.DataFrame, y: pd.Series, seed: int) -> tuple[pd.Series, str]:
    """Per-feature importance: the model's own when it has one (free), else permutation importance."""
    estimator = model.named_steps["model"]
    names = model.named_steps["preprocess"].get_feature_names_out()
    if hasattr(estimator, "feature_importances_"):
        return pd.Series(estimator.feature_importances_, index=names), "Impurity-based importance"
    if hasattr(estimator, "coef_"):
        coef = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
        return pd.Series(coef, index=names), "|coefficient| on standardised features"
    result = permutation_importance(model, x, y, n_repeats=5, random_state=seed, n_jobs=1)
    return pd.Series(result.importances_mean, index=x.columns), "Permutation importance (drop in score)"


def _feature_importance(model, x, y, seed: int) -> Path:
    values, label = importances(model, x, y, seed)
    top = values.sort_values().tail(15)
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(top) + 1))
    ax.barh(top.index, top.to_numpy())
    ax.set_xlabel(label)
    return _save(fig, PLOTS_DIR / "feature_importance.png")


def make_plots(task: str, model, x: pd.DataFrame, y: pd.Series, seed: int) -> list[Path]:
    PLOTS_DIR.mkdir(exist_ok=True)
    paths = []
    if task == "classification":
        scores = model.predict_proba(x)[:, 1]
        displays = {
            "confusion_matrix": lambda ax: skm.ConfusionMatrixDisplay.from_predictions(
                y, model.predict(x), ax=ax, colorbar=False
            ),
            "roc_curve": lambda ax: skm.RocCurveDisplay.from_predictions(y, scores, ax=ax),
            "precision_recall": lambda ax: skm.PrecisionRecallDisplay.from_predictions(y, scores, ax=ax),
        }
    else:
        predicted = model.predict(x)
        displays = {
            "predicted_vs_actual": lambda ax: skm.PredictionErrorDisplay.from_predictions(
                y, predicted, kind="actual_vs_predicted", ax=ax
            ),
            "residuals": lambda ax: skm.PredictionErrorDisplay.from_predictions(
                y, predicted, kind="residual_vs_predicted", ax=ax
            ),
        }
    for name, draw in displays.items():
        fig, ax = plt.subplots(figsize=(4.5, 4))
        draw(ax)
        ax.set_title(name.replace("_", " ").capitalize())
        paths.append(_save(fig, PLOTS_DIR / f"{name}.png"))
    paths.append(_feature_importance(model, x, y, seed))
    return paths


def evaluate(params: dict, schema: dict, *, log_mlflow: bool = True) -> tuple[dict[str, float], str | None]:
    """Write metrics.json and plots; log the run to MLflow. Returns the metrics and the run id."""
    model = joblib.load(MODEL_PATH)
    x, y = split_xy(read_frame(TEST_PATH, schema), schema)
    if x.empty:
        raise UserError(f"{TEST_PATH} has no rows to evaluate on; run the split stage again (dvc repro).")
    values = compute_metrics(params["task"], model, x, y, positive_class(params, schema))
    with replacing(METRICS_PATH) as temporary:
        temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    plots = make_plots(params["task"], model, x, y, params["split"]["seed"])
    if not log_mlflow:
        return values, None
    from .tracking import log_run

    run_id = log_run(
        params,
        values,
        model,
        example=x.head(5),
        artifacts=[*plots, METRICS_PATH],
        data={"train": TRAIN_PATH, "test": TEST_PATH},
        model_path=MODEL_PATH,
    )
    return values, run_id
