from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from {{ cookiecutter.package_name }}.evaluate import importances, make_plots
from {{ cookiecutter.package_name }}.features import split_xy
from {{ cookiecutter.package_name }}.metrics import DIRECTIONS, compute_metrics, improvement
from {{ cookiecutter.package_name }}.train import ESTIMATORS, build_model


def test_metrics_of_a_fitted_model(params, schema, source_frame):
    x, y = split_xy(source_frame, schema)
    model = build_model(params, schema).fit(x, y)
    metrics = compute_metrics(params["task"], model, x, y)
    primary = params["evaluate"]["primary_metric"]
    assert primary in metrics
    assert set(metrics) <= set(DIRECTIONS)
    if params["task"] == "classification":
        assert 0.9 < metrics["roc_auc"] <= 1.0  # on its own training data
    else:
        assert metrics["rmse"] > 0 and metrics["r2"] > 0.5


def test_improvement_follows_the_metric_direction():
    assert improvement("roc_auc", 0.9, 0.8) > 0
    assert improvement("rmse", 50.0, 60.0) > 0
    assert improvement("rmse", 60.0, 50.0) < 0


def test_plots_are_written(params, schema, source_frame, workdir):
    x, y = split_xy(source_frame, schema)
    model = build_model(params, schema).fit(x, y)
    paths = make_plots(params["task"], model, x.head(80), y.head(80), seed=0)
    assert {p.name for p in paths} >= {"feature_importance.png"}
    assert len(paths) >= 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


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
