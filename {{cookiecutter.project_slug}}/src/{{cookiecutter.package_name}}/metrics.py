"""What the evaluate stage measures, which way is better, and where it writes them.

Light to import (no plotting), so the PR report and the merge gate start fast.
"""

from pathlib import Path

import pandas as pd

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


def improvement(metric: str, new: float, old: float) -> float:
    """How much better `new` is than `old` (negative when worse), whatever the metric's direction."""
    return (new - old) * DIRECTIONS.get(metric, 1)


def compute_metrics(task: str, model, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    from sklearn import metrics as skm  # here, not at the top: the report needs only DIRECTIONS

    predicted = model.predict(x)
    if task == "classification":
        scores = model.predict_proba(x)[:, 1]
        values = {
            "accuracy": skm.accuracy_score(y, predicted),
            "precision": skm.precision_score(y, predicted, zero_division=0),
            "recall": skm.recall_score(y, predicted, zero_division=0),
            "f1": skm.f1_score(y, predicted, zero_division=0),
            "roc_auc": skm.roc_auc_score(y, scores),
        }
    else:
        values = {
            "rmse": skm.root_mean_squared_error(y, predicted),
            "mae": skm.mean_absolute_error(y, predicted),
            "r2": skm.r2_score(y, predicted),
        }
    return {name: round(float(value), 6) for name, value in values.items()}
