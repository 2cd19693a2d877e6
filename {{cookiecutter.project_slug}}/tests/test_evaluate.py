import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.evaluate import (
    CURVE_POINTS,
    confusion,
    importances,
    make_plots,
    resample_roc,
    residual_bins,
)
from {{ cookiecutter.package_name }}.features import split_xy
from {{ cookiecutter.package_name }}.metrics import DIRECTIONS, compute_metrics, improvement
from {{ cookiecutter.package_name }}.train import ESTIMATORS, build_model


def test_metrics_of_a_fitted_model(params, schema, source_frame):
    x, y = split_xy(source_frame, schema)
    model = build_model(params, schema).fit(x, y)
    metrics = compute_metrics(params["task"], model, x, y)
    primary = params["evaluate"]["primary_metric"]
    assert primary in metrics
    assert {name.split(".")[0] for name in metrics} <= set(DIRECTIONS)  # per-class ones: f1.<class>
    # What holds for any model and data: the user chooses both.
    if params["task"] == "classification":
        assert all(0 <= value <= 1 for value in metrics.values())
    else:
        assert 0 <= metrics["mae"] <= metrics["rmse"] and metrics["r2"] <= 1


def test_improvement_follows_the_metric_direction():
    assert improvement("roc_auc", 0.9, 0.8) > 0
    assert improvement("rmse", 50.0, 60.0) > 0
    assert improvement("rmse", 60.0, 50.0) < 0


def test_importances_name_every_feature_for_every_model(params, schema, source_frame):
    x, y = split_xy(source_frame.head(150), schema)
    for name in ESTIMATORS[params["task"]]:
        params["train"] = {"model": name, "seed": 0, "hyperparameters": {}}
        model = build_model(params, schema).fit(x, y)
        values, label = importances(model, x, y, seed=0)
        assert sorted(values.index) == sorted(x.columns), name
        assert values.max() > 0, name


def test_models_without_own_importances_get_permutation_importance(params, schema, source_frame):
    x, y = split_xy(source_frame.head(150), schema)
    model = build_model(params, schema)
    knn = KNeighborsClassifier() if params["task"] == "classification" else KNeighborsRegressor()
    model.steps[-1] = ("model", knn)
    values, label = importances(model.fit(x, y), x, y, seed=0)
    assert label.startswith("Permutation")
    assert sorted(values.index) == sorted(x.columns)


# The tests below build their own data and models: plots must work for any task and labels.
SCHEMA_FEATURES = {
    "size": {"dtype": "float", "min": 0, "max": 10},
    "visits": {"dtype": "int", "min": 0, "max": 50},
    "plan": {"dtype": "category", "allowed": ["basic", "pro", "team"]},
}


def frame_of(target, n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Features with a categorical column; `target(frame, rng)` gives the label of each row."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.uniform(0, 10, n),
            "visits": rng.integers(0, 50, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )
    frame["target"] = target(frame, rng)
    return frame


def fitted(frame: pd.DataFrame, estimator) -> Pipeline:
    preprocess = ColumnTransformer(
        [("numeric", StandardScaler(), ["size", "visits"]), ("categorical", OneHotEncoder(), ["plan"])],
        verbose_feature_names_out=False,
    )
    model = Pipeline([("preprocess", preprocess), ("model", estimator)])
    return model.fit(frame[list(SCHEMA_FEATURES)], frame["target"])


def plot_params(task: str, positive=None) -> dict:
    return {"task": task, "split": {"seed": 0}, "evaluate": {"positive_class": positive}}


def plot_schema(target: dict) -> dict:
    return {"target": {"name": "target", **target}, "features": SCHEMA_FEATURES}


def noisy_binary(labels):
    """An imbalanced binary target (about a quarter `labels[1]`) that `size` predicts, with noise."""
    return lambda f, rng: np.where(f["size"] + rng.normal(0, 2.5, len(f)) > 7.5, labels[1], labels[0])


def written_curve() -> pd.DataFrame:
    curve = pd.read_csv("plots/roc_curve.csv")
    assert list(curve.columns) == ["fpr", "tpr"]
    assert len(curve) == CURVE_POINTS <= 50
    assert curve["fpr"].iloc[0] == 0 and curve["fpr"].iloc[-1] == 1
    assert curve["fpr"].is_monotonic_increasing and curve["tpr"].is_monotonic_increasing
    return curve


def expected_curve(model, frame: pd.DataFrame, positive) -> pd.DataFrame:
    column = list(model.classes_).index(positive)
    scores = model.predict_proba(frame[list(SCHEMA_FEATURES)])[:, column]
    fpr, tpr, _ = skm.roc_curve(frame["target"] == positive, scores)
    return resample_roc(fpr, tpr)


def png_names(paths) -> set[str]:
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths if p.suffix == ".png")
    return {p.name for p in paths}


CLASSIFICATION_FILES = {
    "confusion_matrix.png",
    "roc_curve.png",
    "precision_recall.png",
    "roc_curve.csv",
    "feature_importance.png",
    "feature_importance.csv",
}


@pytest.mark.parametrize(
    ("labels", "allowed", "positive", "expected"),
    [
        ((0, 1), [0, 1], None, 1),  # null: the last class of the schema
        ((0, 1), [0, 1], 0, 0),
        ((0, 1), [0, 1], "1", 1),  # as params.yaml may spell it
        (("no", "yes"), ["yes", "no"], None, "no"),
        (("no", "yes"), ["yes", "no"], "yes", "yes"),
    ],
)
def test_binary_plots_are_about_the_positive_class(workdir, labels, allowed, positive, expected):
    frame = frame_of(noisy_binary(labels))
    model = fitted(frame, LogisticRegression())
    target = {"dtype": "int" if isinstance(labels[0], int) else "category", "allowed": allowed}
    paths = make_plots(plot_params("classification", positive), plot_schema(target), model, *split(frame))
    assert png_names(paths) == CLASSIFICATION_FILES
    curve = written_curve()
    pd.testing.assert_frame_equal(curve, expected_curve(model, frame, expected), atol=1e-5)
    other = next(label for label in labels if label != expected)
    assert not np.allclose(curve["tpr"], expected_curve(model, frame, other)["tpr"], atol=0.01)


def test_a_positive_class_that_is_not_a_class_is_one_sentence(workdir):
    frame = frame_of(noisy_binary(("no", "yes")))
    model = fitted(frame, LogisticRegression())
    schema = plot_schema({"dtype": "category", "allowed": ["no", "yes"]})
    with pytest.raises(UserError, match=r"evaluate.positive_class is 'maybe', not one of .*\(no, yes\)"):
        make_plots(plot_params("classification", "maybe"), schema, model, *split(frame))


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame[list(SCHEMA_FEATURES)], frame["target"]


def test_multiclass_plots_with_string_labels(workdir):
    allowed = ["medium", "large", "small", "huge"]  # the schema's order, not sorted; `huge` never occurs
    frame = frame_of(
        lambda f, rng: pd.cut(f["size"] + rng.normal(0, 1, len(f)), [-9, 3.5, 6.5, 99], labels=False)
    )
    frame["target"] = frame["target"].map({0: "small", 1: "medium", 2: "large"})
    model = fitted(frame, RandomForestClassifier(n_estimators=20, random_state=0))
    schema = plot_schema({"dtype": "category", "allowed": allowed})
    x, y = split(frame)
    paths = make_plots(plot_params("classification", positive="large"), schema, model, x, y)
    assert png_names(paths) == CLASSIFICATION_FILES
    # The micro-average of one class against the rest, each class's scores in the model's column order.
    truth = np.column_stack([y == c for c in model.classes_]).ravel()
    fpr, tpr, _ = skm.roc_curve(truth, model.predict_proba(x).ravel())
    pd.testing.assert_frame_equal(written_curve(), resample_roc(fpr, tpr), atol=1e-5)
    matrix = confusion(model.predict(x), y, allowed)
    assert list(matrix.index) == list(matrix.columns) == allowed
    assert matrix.to_numpy().sum() == len(y) and matrix.loc["huge"].sum() == 0
    assert matrix.loc["small", "small"] == ((y == "small") & (model.predict(x) == "small")).sum()


def test_a_test_set_of_one_class_is_one_sentence(workdir):
    frame = frame_of(noisy_binary(("no", "yes")))
    model = fitted(frame, LogisticRegression())
    only_no = frame[frame["target"] == "no"]
    schema = plot_schema({"dtype": "category", "allowed": ["no", "yes"]})
    with pytest.raises(UserError, match="the test set holds only the class 'no'"):
        make_plots(plot_params("classification"), schema, model, *split(only_no))


def test_regression_plots_and_residuals_by_actual_value(workdir):
    frame = frame_of(lambda f, rng: 3 * f["size"] + (f["plan"] == "team") * 5 + rng.normal(0, 1, len(f)))
    model = fitted(frame, RandomForestRegressor(n_estimators=20, random_state=0))
    schema = plot_schema({"dtype": "float", "min": -100, "max": 100})
    paths = make_plots(plot_params("regression"), schema, model, *split(frame))
    assert png_names(paths) == {
        "predicted_vs_actual.png",
        "residuals.png",
        "residuals.csv",
        "feature_importance.png",
        "feature_importance.csv",
    }
    bins = pd.read_csv("plots/residuals.csv")
    assert list(bins.columns) == ["percentile", "actual", "predicted", "residual"]
    assert len(bins) == 20
    assert bins["percentile"].between(0, 100).all() and bins["percentile"].is_monotonic_increasing
    assert bins["actual"].is_monotonic_increasing
    assert np.allclose(bins["residual"], bins["predicted"] - bins["actual"], atol=1e-3)
    # The groups' means are the means of all rows.
    predicted = model.predict(frame[list(SCHEMA_FEATURES)])
    assert bins["actual"].mean() == pytest.approx(frame["target"].mean(), rel=1e-4)
    assert bins["predicted"].mean() == pytest.approx(predicted.mean(), rel=1e-4)


def test_residual_bins_of_fewer_rows_than_bins():
    bins = residual_bins(np.array([3.0, 1.0, 2.0]), np.array([2.0, 2.0, 2.0]), bins=20)
    assert bins.to_dict("list") == {
        "percentile": pytest.approx([100 / 6, 50, 500 / 6]),
        "actual": [1.0, 2.0, 3.0],
        "predicted": [2.0, 2.0, 2.0],
        "residual": [1.0, 0.0, -1.0],
    }


def test_resample_roc_reads_the_curve_at_even_false_positive_rates():
    curve = resample_roc(np.array([0, 0, 0.5, 1]), np.array([0, 0.5, 1, 1]), points=5)
    assert curve["fpr"].tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert curve["tpr"].tolist() == [0.5, 0.75, 1, 1, 1]  # the highest rate at fpr 0, lines between corners


@pytest.mark.parametrize(
    "estimator", [RandomForestClassifier(n_estimators=10, random_state=0), LogisticRegression()]
)
def test_importances_add_up_one_hot_and_missing_indicator_columns(estimator):
    frame = frame_of(noisy_binary((0, 1)))
    frame.loc[::7, "size"] = np.nan
    numeric = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    preprocess = ColumnTransformer(
        [("numeric", numeric, ["size", "visits"]), ("categorical", categorical, ["plan"])]
    )
    model = Pipeline([("preprocess", preprocess), ("model", estimator)]).fit(*split(frame))
    expanded = model.named_steps["preprocess"].get_feature_names_out()
    assert "categorical__plan_pro" in expanded and "numeric__missingindicator_size" in expanded
    values, _ = importances(model, *split(frame), seed=0)
    assert list(values.index) == ["size", "visits", "plan"]
    if hasattr(estimator, "feature_importances_"):
        assert values.sum() == pytest.approx(1.0)
    assert values["size"] == values.max()  # the column the target depends on
