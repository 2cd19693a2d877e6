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


def test_the_configured_hyperparameters_and_seed_reach_the_estimator(params, schema):
    estimator = build_model(params, schema).named_steps["model"]
    assert isinstance(estimator, ESTIMATORS[params["task"]][params["train"]["model"]])
    hyperparameters = params["train"].get("hyperparameters") or {}
    for name, value in hyperparameters.items():
        assert getattr(estimator, name) == value, name
    if "random_state" in estimator.get_params():
        assert estimator.random_state == hyperparameters.get("random_state", params["train"].get("seed", 0))


def test_hyperparameters_reach_each_model_and_the_seed_is_its_random_state(params, schema):
    for name, estimator_cls in ESTIMATORS[params["task"]].items():
        if "random_state" not in estimator_cls().get_params():
            continue
        params["train"] = {"model": name, "seed": 3, "hyperparameters": {"random_state": 11}}
        assert build_model(params, schema).named_steps["model"].random_state == 11  # given: kept
        params["train"]["hyperparameters"] = {}
        estimator = build_model(params, schema).named_steps["model"]
        assert type(estimator) is estimator_cls and estimator.random_state == 3


def test_unknown_hyperparameter_is_named(params, schema):
    params["train"]["hyperparameters"] = {"n_estimatorz": 7}
    estimator_cls = ESTIMATORS[params["task"]][params["train"]["model"]]
    with pytest.raises(UserError, match=f"n_estimatorz not accepted by {estimator_cls.__name__}"):
        build_model(params, schema)


def test_hyperparameters_of_another_model_are_refused_by_name(params, schema):
    params["train"] = {"model": "random_forest", "seed": 0, "hyperparameters": {"learning_rate": 0.1}}
    with pytest.raises(UserError, match="learning_rate not accepted by RandomForest"):
        build_model(params, schema)


def test_unknown_model_lists_the_choices(params, schema):
    params["train"]["model"] = "xgboost"
    with pytest.raises(UserError, match=", ".join(ESTIMATORS[params["task"]])):
        build_model(params, schema)


def test_train_params_are_flat(params):
    flat = train_params(params)
    assert flat["model"] == params["train"]["model"]
    assert flat["seed"] == params["train"].get("seed")
    hyperparameters = params["train"].get("hyperparameters") or {}
    assert {k: v for k, v in flat.items() if k.startswith("hyperparameters.")} == {
        f"hyperparameters.{k}": v for k, v in hyperparameters.items()
    }
