import pytest

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.features import split_xy
from {{ cookiecutter.package_name }}.train import ESTIMATORS, build_model, train_params


def test_every_model_choice_fits_and_predicts(params, schema, source_frame):
    x, y = split_xy(source_frame, schema)
    for name in ESTIMATORS[params["task"]]:
        params["train"] = {"model": name, "seed": 1, "hyperparameters": {}}
        model = build_model(params, schema).fit(x, y)
        assert len(model.predict(x.head(7))) == 7


def test_hyperparameters_reach_the_estimator(params, schema):
    params["train"]["hyperparameters"] = {"n_estimators": 7, "max_depth": 2}
    model = build_model(params, schema)
    assert model.named_steps["model"].n_estimators == 7
    assert model.named_steps["model"].random_state == params["train"]["seed"]


def test_unknown_hyperparameter_is_named(params, schema):
    params["train"]["hyperparameters"] = {"n_estimatorz": 7}
    with pytest.raises(UserError, match="n_estimatorz not accepted by RandomForest"):
        build_model(params, schema)


def test_unknown_model_lists_the_choices(params, schema):
    params["train"]["model"] = "xgboost"
    with pytest.raises(UserError, match="random_forest"):
        build_model(params, schema)


def test_train_params_are_flat(params):
    flat = train_params(params)
    assert flat["model"] == params["train"]["model"]
    assert flat["hyperparameters.n_estimators"] == params["train"]["hyperparameters"]["n_estimators"]
