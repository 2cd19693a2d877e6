import pandas as pd

from {{ cookiecutter.package_name }}.split import split


def test_split_is_seeded_and_complete(params, source_frame, workdir):
    source_frame.to_csv(workdir / "validated.csv", index=False)
    train_path, test_path = split(params, workdir / "validated.csv", workdir / "a")
    again = split(params, workdir / "validated.csv", workdir / "b")
    train, test = pd.read_csv(train_path), pd.read_csv(test_path)
    assert len(train) + len(test) == len(source_frame)
    assert abs(len(test) / len(source_frame) - params["split"]["test_size"]) < 0.01
    assert train_path.read_bytes() == again[0].read_bytes()


def test_classification_split_keeps_class_balance(params, workdir):
    # A rare class: an unstratified split would leave the test set's share to chance.
    frame = pd.DataFrame({"x": range(200), "target": [1] * 20 + [0] * 180})
    frame.to_csv(workdir / "validated.csv", index=False)
    params.update(task="classification", data={"target": "target"})
    params["split"]["test_size"] = 0.2  # 4 of the 20: a share the split can keep exactly
    train_path, test_path = split(params, workdir / "validated.csv", workdir)
    assert pd.read_csv(test_path)["target"].sum() == 4
    assert pd.read_csv(train_path)["target"].sum() == 16
