"""The train stage: a scikit-learn Pipeline of preprocessing and model, from params.yaml."""

from pathlib import Path

import joblib
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from .atomic import replacing
from .errors import UserError
from .features import preprocessor, read_frame, split_xy

MODEL_PATH = Path("models/model.joblib")

ESTIMATORS: dict[str, dict[str, type[BaseEstimator]]] = {
    "classification": {
        "random_forest": RandomForestClassifier,
        "gradient_boosting": GradientBoostingClassifier,
        "logistic_regression": LogisticRegression,
    },
    "regression": {
        "random_forest": RandomForestRegressor,
        "gradient_boosting": GradientBoostingRegressor,
        "ridge": Ridge,
    },
}


def build_model(params: dict, schema: dict) -> Pipeline:
    task, train = params["task"], params["train"]
    choices = ESTIMATORS[task]
    if train["model"] not in choices:
        raise UserError(
            f"params.yaml train.model is {train['model']!r}; for {task} use one of {', '.join(choices)}."
        )
    estimator_cls = choices[train["model"]]
    hyperparameters = dict(train.get("hyperparameters") or {})
    valid = estimator_cls().get_params()
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise UserError(
            f"train.hyperparameters {', '.join(unknown)} not accepted by {estimator_cls.__name__}; "
            f"use some of: {', '.join(sorted(valid))}."
        )
    if "random_state" in valid:
        hyperparameters.setdefault("random_state", train.get("seed", 0))
    return Pipeline([("preprocess", preprocessor(schema)), ("model", estimator_cls(**hyperparameters))])


def train(params: dict, schema: dict, train_path: Path, out: Path = MODEL_PATH) -> Pipeline:
    x, y = split_xy(read_frame(train_path, schema), schema)
    model = build_model(params, schema)
    try:
        model.fit(x, y)
    except (TypeError, ValueError) as exc:
        # A hyperparameter of the right name but a bad value, e.g. max_depth: -1.
        raise UserError(f"training failed with train.hyperparameters {train_params(params)}: {exc}") from exc
    with replacing(out) as temporary:
        joblib.dump(model, temporary)
    return model


def train_params(params: dict) -> dict:
    """The flat view of the train section that MLflow and the PR report show."""
    train = params["train"]
    flat = {"model": train["model"], "seed": train.get("seed")}
    flat.update({f"hyperparameters.{k}": v for k, v in (train.get("hyperparameters") or {}).items()})
    return flat
