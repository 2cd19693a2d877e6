"""The evaluate stage: metrics.json and plots of the model on the held-out test set.

Each plot is a PNG, and the data behind the main ones is a small CSV beside it (plots/*.csv,
committed): `dvc plots` draws them and the PR report compares them with the base branch's.
"""

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
from sklearn.preprocessing import label_binarize  # noqa: E402

from .atomic import replacing  # noqa: E402
from .errors import UserError  # noqa: E402
from .features import read_frame, split_xy  # noqa: E402
from .metrics import (  # noqa: E402
    IMPORTANCE_DATA,
    METRICS_PATH,
    PLOTS_DIR,
    RESIDUALS_DATA,
    ROC_DATA,
    compute_metrics,
)
from .params import positive_class, target_classes  # noqa: E402
from .split import TEST_PATH, TRAIN_PATH  # noqa: E402
from .train import MODEL_PATH  # noqa: E402

CURVE_POINTS = 41  # a curve is resampled at this many evenly spaced points: small, and base and PR align
RESIDUAL_BINS = 20  # test rows sorted by their actual value, in this many equal groups
MAX_CLASS_CURVES = 10  # more classes than this: the curves show the micro-average alone
CURVES = {"roc_curve": skm.RocCurveDisplay, "precision_recall": skm.PrecisionRecallDisplay}
ERROR_PLOTS = {"predicted_vs_actual": "actual_vs_predicted", "residuals": "residual_vs_predicted"}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with replacing(path) as temporary:
        fig.savefig(temporary, dpi=80)
    plt.close(fig)
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    with replacing(path) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.6g")
    return path


def _source_column(name: str, columns: list[str], transformer: str) -> str:
    """The input column an output column of the preprocessor comes from: `plan` for the one-hot
    column `plan_pro`, `age` for the imputer's `missingindicator_age`."""
    name = name.removeprefix(f"{transformer}__")
    if name in columns:
        return name
    for matches in (
        [c for c in columns if name.startswith(f"{c}_")],
        [c for c in columns if name.endswith(f"_{c}")],
    ):
        if matches:
            return max(matches, key=len)
    return columns[0] if len(columns) == 1 else name


def source_columns(preprocess) -> list[str]:
    """For each column the fitted preprocessor outputs (get_feature_names_out), its input column."""
    names = list(preprocess.get_feature_names_out())
    inputs = list(preprocess.feature_names_in_)
    sources = list(names)
    for transformer, _, columns in preprocess.transformers_:
        part = preprocess.output_indices_[transformer]
        columns = [columns] if isinstance(columns, str | int) else list(columns)
        columns = [inputs[c] if isinstance(c, int) else c for c in columns]
        for i in range(part.start, part.stop):
            sources[i] = _source_column(names[i], columns, transformer)
    return sources


def importances(model, x: pd.DataFrame, y: pd.Series, seed: int) -> tuple[pd.Series, str]:
    """Importance of each input column: the model's own when it has one (free), else permutation
    importance. A categorical column's one-hot columns (and an imputer's indicator) add up to its own."""
    estimator = model.named_steps["model"]
    preprocess = model.named_steps["preprocess"]
    if hasattr(estimator, "feature_importances_"):
        values, label = estimator.feature_importances_, "Impurity-based importance"
    elif hasattr(estimator, "coef_"):
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
        label = "|coefficient| on standardised features"
    else:
        result = permutation_importance(model, x, y, n_repeats=5, random_state=seed, n_jobs=1)
        return pd.Series(result.importances_mean, index=x.columns), "Permutation importance (drop in score)"
    per_output = pd.Series(values, index=source_columns(preprocess))
    return per_output.groupby(level=0, sort=False).sum(), label


def _feature_importance(model, x, y, seed: int) -> list[Path]:
    values, label = importances(model, x, y, seed)
    ranked = values.sort_values(ascending=False)
    data = pd.DataFrame({"feature": ranked.index, "importance": ranked.to_numpy()})
    top = ranked.head(15).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(top) + 1))
    ax.barh([str(name) for name in top.index], top.to_numpy())
    ax.set_xlabel(label)
    return [_save(fig, PLOTS_DIR / "feature_importance.png"), _write_csv(data, IMPORTANCE_DATA)]


def resample_roc(fpr: np.ndarray, tpr: np.ndarray, points: int = CURVE_POINTS) -> pd.DataFrame:
    """A ROC curve at `points` evenly spaced false positive rates (straight lines between its corners)."""
    reversed_fpr, last = np.unique(fpr[::-1], return_index=True)  # the highest tpr at each fpr
    grid = np.linspace(0.0, 1.0, points)
    return pd.DataFrame({"fpr": grid, "tpr": np.interp(grid, reversed_fpr, tpr[::-1][last])})


def residual_bins(actual: np.ndarray, predicted: np.ndarray, bins: int = RESIDUAL_BINS) -> pd.DataFrame:
    """Test rows sorted by actual value in equal groups: each group's mean actual, predicted and residual."""
    order = np.argsort(actual, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(order))) if len(g)]
    edges = np.cumsum([0, *(len(g) for g in groups)]) / len(order) * 100
    means = [(actual[g].mean(), predicted[g].mean()) for g in groups]
    frame = pd.DataFrame(means, columns=["actual", "predicted"])
    frame.insert(0, "percentile", (edges[:-1] + edges[1:]) / 2)
    frame["residual"] = frame["predicted"] - frame["actual"]
    return frame


def _known_as(cls, known: list):
    """A class of schema.yaml as the model knows it (`1` for `"1"` when the data holds numbers)."""
    return next((k for k in known if k == cls or str(k) == str(cls)), cls)


def _class_index(model, wanted) -> int:
    """The column of predict_proba for a class; `"1"` in params.yaml finds the class 1 too."""
    known = list(model.classes_)
    for i, cls in enumerate(known):
        if cls == wanted or str(cls) == str(wanted):
            return i
    raise UserError(
        f"params.yaml evaluate.positive_class is {wanted!r}, not one of the classes the model knows "
        f"({', '.join(map(str, known))}); set it to one of them, or to null for the last in schema.yaml."
    )


def _drawn(name: str, draw, size=(4.5, 4)) -> Path:
    fig, ax = plt.subplots(figsize=size)
    draw(ax)
    ax.set_title(name.replace("_", " ").capitalize().replace("Roc ", "ROC "))
    return _save(fig, PLOTS_DIR / f"{name}.png")


def confusion(predicted, y: pd.Series, classes: list) -> pd.DataFrame:
    """Counts of each true class (rows) predicted as each class (columns), in the schema's class order."""
    labels = [str(c) for c in classes]
    counts = skm.confusion_matrix(y, predicted, labels=classes)
    return pd.DataFrame(
        counts, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted")
    )


def _one_class_only(y: pd.Series) -> UserError:
    return UserError(
        f"the test set holds only the class {y.iloc[0]!r}, so no ROC curve can be drawn; "
        "raise split.test_size in params.yaml or add rows of the other classes to the data."
    )


def _classification_plots(params: dict, schema: dict, model, x: pd.DataFrame, y: pd.Series) -> list[Path]:
    known = list(model.classes_)
    classes = [_known_as(c, known) for c in target_classes(schema) or known]
    proba = model.predict_proba(x)
    matrix = confusion(model.predict(x), y, classes)
    size = max(4.5, 0.45 * len(classes) + 2.5)
    rotation = "vertical" if sum(len(str(c)) for c in classes) > 30 else "horizontal"
    paths = [
        _drawn(
            "confusion_matrix",
            lambda ax: skm.ConfusionMatrixDisplay(matrix.to_numpy(), display_labels=matrix.columns).plot(
                ax=ax, colorbar=False, xticks_rotation=rotation
            ),
            size=(size, size),
        )
    ]
    if len(known) == 2:
        column = _class_index(model, positive_class(params, schema))
        truth = (y == known[column]).to_numpy().astype(int)[:, None]
        scores, names = proba[:, [column]], [f"positive class: {known[column]}"]
    else:  # one class against the rest, for each class the test set holds, and their micro-average
        truth = label_binarize(y, classes=known)
        present = [i for i in range(len(known)) if truth[:, i].any()]
        truth, scores, names = truth[:, present], proba[:, present], [str(known[i]) for i in present]
    if truth.all() or not truth.any():
        raise _one_class_only(y)
    fpr, tpr, _ = skm.roc_curve(truth.ravel(), scores.ravel())
    curves = [] if truth.shape[1] > MAX_CLASS_CURVES else list(range(truth.shape[1]))
    for name, display in CURVES.items():

        def draw(ax, display=display):
            for i in curves:
                display.from_predictions(truth[:, i], scores[:, i], name=names[i], ax=ax)
            if truth.shape[1] > 1:
                display.from_predictions(truth.ravel(), scores.ravel(), name="micro-average", ax=ax)
                ax.lines[-1].set(linestyle="--", color="black")
            ax.legend(fontsize="small")

        paths.append(_drawn(name, draw, size=(4.5, 4) if truth.shape[1] == 1 else (5.5, 5)))
    return [*paths, _write_csv(resample_roc(fpr, tpr), ROC_DATA)]


def _regression_plots(model, x: pd.DataFrame, y: pd.Series) -> list[Path]:
    predicted = model.predict(x)
    paths = [
        _drawn(
            name,
            lambda ax, kind=kind: skm.PredictionErrorDisplay.from_predictions(y, predicted, kind=kind, ax=ax),
        )
        for name, kind in ERROR_PLOTS.items()
    ]
    bins = residual_bins(y.to_numpy(dtype=float), np.asarray(predicted, dtype=float))
    return [*paths, _write_csv(bins, RESIDUALS_DATA)]


def make_plots(params: dict, schema: dict, model, x: pd.DataFrame, y: pd.Series) -> list[Path]:
    """The PNGs of the test set's results and the CSVs behind them, in plots/."""
    PLOTS_DIR.mkdir(exist_ok=True)
    if params["task"] == "classification":
        paths = _classification_plots(params, schema, model, x, y)
    else:
        paths = _regression_plots(model, x, y)
    return [*paths, *_feature_importance(model, x, y, params["split"]["seed"])]


def evaluate(params: dict, schema: dict, *, log_mlflow: bool = True) -> tuple[dict[str, float], str | None]:
    """Write metrics.json and plots; log the run to MLflow. Returns the metrics and the run id."""
    model = joblib.load(MODEL_PATH)
    x, y = split_xy(read_frame(TEST_PATH, schema), schema)
    if x.empty:
        raise UserError(f"{TEST_PATH} has no rows to evaluate on; run the split stage again (dvc repro).")
    values = compute_metrics(params["task"], model, x, y, positive_class(params, schema))
    plots = make_plots(params, schema, model, x, y)  # first: a plot that fails leaves metrics.json as it was
    with replacing(METRICS_PATH) as temporary:
        temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
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
