import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.split import split


def test_split_is_seeded_and_complete(params, schema, source_frame, workdir):
    source_frame.to_csv(workdir / "validated.csv", index=False)
    train_path, test_path = split(params, schema, workdir / "validated.csv", workdir / "a")
    again = split(params, schema, workdir / "validated.csv", workdir / "b")
    train, test = pd.read_csv(train_path), pd.read_csv(test_path)
    assert len(train) + len(test) == len(source_frame)
    assert abs(len(test) / len(source_frame) - params["split"]["test_size"]) < 0.01
    assert train_path.read_bytes() == again[0].read_bytes()


def test_classification_split_keeps_class_balance_and_text_labels(params, workdir):
    # A rare class: an unstratified split would leave the test set's share to chance.
    frame = pd.DataFrame({"code": ["01", "02"] * 100, "label": ["rare"] * 20 + ["common"] * 180})
    frame.to_csv(workdir / "validated.csv", index=False)
    schema = {
        "features": {"code": {"dtype": "category", "allowed": ["01", "02"]}},
        "target": {"name": "label", "dtype": "category", "allowed": ["common", "rare"]},
    }
    params.update(task="classification", split={"test_size": 0.2, "seed": 3})
    train_path, test_path = split(params, schema, workdir / "validated.csv", workdir)
    assert (pd.read_csv(test_path)["label"] == "rare").sum() == 4
    assert (pd.read_csv(train_path)["label"] == "rare").sum() == 16
    assert set(pd.read_csv(train_path, dtype=str)["code"]) == {"01", "02"}  # text stays text


def test_a_split_that_cannot_hold_every_class_is_one_sentence(params, workdir):
    frame = pd.DataFrame({"x": range(10), "label": ["a", "b"] * 5})
    frame.to_csv(workdir / "validated.csv", index=False)
    schema = {"features": {"x": {"dtype": "int"}}, "target": {"name": "label", "dtype": "category"}}
    params.update(task="classification", split={"test_size": 0.1, "seed": 3})
    with pytest.raises(UserError, match="cannot split .* with params.yaml split"):
        split(params, schema, workdir / "validated.csv", workdir)
    assert not (workdir / "train.csv").exists()
