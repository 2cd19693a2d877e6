"""What the evaluate stage measures, which way is better, and where it writes them.

Light to import (no plotting), so the PR report and the merge gate start fast.
"""

import re
from pathlib import Path

import pandas as pd

from .errors import UserError

METRICS_PATH = Path("metrics.json")
PLOTS_DIR = Path("plots")
# The data behind the plots (evaluate writes them, the PR report charts them); small CSVs in git.
ROC_DATA = PLOTS_DIR / "roc_curve.csv"  # fpr, tpr: the positive class's curve, or the micro-average
RESIDUALS_DATA = PLOTS_DIR / "residuals.csv"  # percentile, actual, predicted, residual
IMPORTANCE_DATA = PLOTS_DIR / "feature_importance.csv"  # feature, importance (largest first)

# +1: higher is better; -1: lower is better. The PR report and the merge gate read this.
DIRECTIONS = {
    "accuracy": 1,
    "precision": 1,
    "recall": 1,
    "f1": 1,
    "roc_auc": 1,
    "r2": 1,
    "rmse": -1,
    "mae": -1,
}


def direction(metric: str) -> int:
    """+1 or -1 for a metric name, per-class ones (`f1.<class>`) included."""
    return DIRECTIONS.get(metric.split(".", 1)[0], 1)


def improvement(metric: str, new: float, old: float) -> float:
    """How much better `new` is than `old` (negative when worse), whatever the metric's direction."""
    return (new - old) * direction(metric)


def metric_key(label) -> str:
    """A class label as MLflow accepts it in a metric name (letters, digits, _ - . space /)."""
    return re.sub(r"[^\w\-. /]", "_", str(label))


def compute_metrics(task: str, model, x: pd.DataFrame, y: pd.Series, positive=None) -> dict[str, float]:
    """The task's metrics; for two classes precision, recall, f1 and roc_auc are of `positive`
    (default: the model's last class), for more they are macro averages, with per-class ones."""
    if task == "classification":
        values = _classification(model, x, y, positive)
    else:
        from sklearn import metrics as skm  # here, not at the top: the report needs only DIRECTIONS

        predicted = model.predict(x)
        values = {
            "rmse": skm.root_mean_squared_error(y, predicted),
            "mae": skm.mean_absolute_error(y, predicted),
            "r2": skm.r2_score(y, predicted),
        }
    return {name: round(float(value), 6) for name, value in values.items()}


def _classification(model, x: pd.DataFrame, y: pd.Series, positive) -> dict[str, float]:
    from sklearn import metrics as skm

    classes = list(model.classes_)
    probabilities = model.predict_proba(x)
    # The label predict() would give, without a second pass over the model.
    predicted = model.classes_[probabilities.argmax(axis=1)]
    if len(classes) == 2:
        # The YAML may say 1 for the label "1", or the reverse.
        positive = (
            classes[-1]
            if positive is None
            else next((c for c in classes if str(c) == str(positive)), positive)
        )
        if positive not in classes:
            raise UserError(
                f"params.yaml evaluate.positive_class is {positive!r}, not one of the classes "
                f"{', '.join(map(str, classes))}; name one of them, or null for the last."
            )
        options = {"pos_label": positive, "zero_division": 0}
        return {
            "accuracy": skm.accuracy_score(y, predicted),
            "precision": skm.precision_score(y, predicted, **options),
            "recall": skm.recall_score(y, predicted, **options),
            "f1": skm.f1_score(y, predicted, **options),
            "roc_auc": skm.roc_auc_score(y == positive, probabilities[:, classes.index(positive)]),
        }
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predicted, labels=classes, zero_division=0
    )
    values = {
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": precision.mean(),
        "recall": recall.mean(),
        "f1": f1.mean(),
        "roc_auc": skm.roc_auc_score(y, probabilities, multi_class="ovr", average="macro", labels=classes),
    }
    for i, label in enumerate(classes):
        key = metric_key(label)
        values.update({f"precision.{key}": precision[i], f"recall.{key}": recall[i], f"f1.{key}": f1[i]})
    return values
