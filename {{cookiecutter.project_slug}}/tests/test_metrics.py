"""Metrics of binary, multiclass and regression models, on data the tests make."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.metrics import compute_metrics, direction, improvement


def labelled(classes: list, weights=None, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    x, y = make_classification(
        n_samples=300,
        n_features=5,
        n_informative=3,
        n_classes=len(classes),
        weights=weights,
        random_state=seed,
    )
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(5)]), pd.Series(np.array(classes)[y])


def test_binary_metrics_are_of_the_chosen_positive_class():
    # Imbalanced: 85% "no". Recall of "yes" and of "no" differ, so the positive class shows.
    x, y = labelled(["no", "yes"], weights=[0.85])
    model = LogisticRegression().fit(x, y)
    of_yes = compute_metrics("classification", model, x, y, positive="yes")
    of_no = compute_metrics("classification", model, x, y, positive="no")
    assert of_yes["recall"] == pytest.approx(
        ((model.predict(x) == "yes") & (y == "yes")).sum() / (y == "yes").sum(), abs=1e-6
    )
    assert of_yes["recall"] != of_no["recall"]
    assert of_yes["roc_auc"] == pytest.approx(of_no["roc_auc"], abs=1e-6)  # symmetric in the class
    assert compute_metrics("classification", model, x, y) == of_yes  # default: the last class
    with pytest.raises(UserError, match="evaluate.positive_class is 'maybe', not one of the classes no, yes"):
        compute_metrics("classification", model, x, y, positive="maybe")


def test_integer_labels_take_a_positive_class_written_as_text():
    x, y = labelled([0, 1])
    model = LogisticRegression().fit(x, y)
    assert compute_metrics("classification", model, x, y, positive="0") == compute_metrics(
        "classification", model, x, y, positive=0
    )


def test_multiclass_metrics_are_macro_with_per_class_ones():
    x, y = labelled(["cat", "dog", "eel/x"])
    model = LogisticRegression(max_iter=500).fit(x, y)
    values = compute_metrics("classification", model, x, y)
    assert {"accuracy", "precision", "recall", "f1", "roc_auc"} <= set(values)
    assert {"f1.cat", "recall.dog", "precision.eel/x"} <= set(values)
    per_class = [values[f"f1.{c}"] for c in ("cat", "dog", "eel/x")]
    assert values["f1"] == pytest.approx(np.mean(per_class), abs=1e-5)
    assert 0.5 < values["roc_auc"] <= 1


def test_direction_covers_per_class_metrics():
    assert direction("f1.cat") == 1 and direction("rmse") == -1
    assert improvement("recall.dog", 0.8, 0.7) > 0
