"""Simulated production data: seeded resampling and each kind of shift."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.simulate import Shift, parse_shift, run, simulate


@pytest.fixture
def source():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "bmi": rng.normal(26, 4, 300),
            "sex": rng.choice([1.0, 2.0], 300, p=[0.6, 0.4]),
            "colour": rng.choice(["red", "green", "blue"], 300, p=[0.5, 0.3, 0.2]),
            "target": rng.normal(150, 70, 300),
        }
    )


def test_the_same_seed_gives_the_same_rows(source):
    first = simulate(source, 1000, [], seed=4)
    assert first.equals(simulate(source, 1000, [], seed=4))
    assert not first.equals(simulate(source, 1000, [], seed=5))
    assert len(first) == 1000 and list(first.columns) == list(source.columns)
    assert set(first["colour"]) <= set(source["colour"])  # drawn from the source rows


def test_mean_and_scale_shifts_move_exactly_by_the_source_statistics(source):
    plain = simulate(source, 2000, [], seed=1)
    moved = simulate(source, 2000, [Shift("bmi", "mean", 0.5)], seed=1)
    np.testing.assert_allclose(moved["bmi"] - plain["bmi"], 0.5 * source["bmi"].std())
    wider = simulate(source, 2000, [Shift("bmi", "scale", 2.0)], seed=1)
    np.testing.assert_allclose(wider["bmi"] - source["bmi"].mean(), 2 * (plain["bmi"] - source["bmi"].mean()))
    assert moved.drop(columns="bmi").equals(plain.drop(columns="bmi"))  # only the named column moves


@pytest.mark.parametrize(("column", "top"), [("sex", 1.0), ("colour", "red")])
def test_mix_gives_the_most_frequent_value_its_share(source, column, top):
    mixed = simulate(source, 5000, [Shift(column, "mix", 0.9)], seed=2)
    assert (mixed[column] == top).mean() == pytest.approx(0.9, abs=0.02)
    assert mixed[column].dtype == source[column].dtype
    others = mixed[column][mixed[column] != top].value_counts(normalize=True)
    expected = source[column][source[column] != top].value_counts(normalize=True)
    assert others.index.tolist() == expected.index.tolist()  # the rest keep their order of frequency


def test_missing_blanks_the_share_of_rows(source):
    blanked = simulate(source, 5000, [Shift("colour", "missing", 0.3), Shift("bmi", "missing", 0.1)], seed=3)
    assert blanked["colour"].isna().mean() == pytest.approx(0.3, abs=0.02)
    assert blanked["bmi"].isna().mean() == pytest.approx(0.1, abs=0.02)
    assert blanked["sex"].notna().all()


def test_shift_syntax():
    assert parse_shift("bmi:mean=-0.5") == Shift("bmi", "mean", -0.5)
    assert parse_shift("s1:missing=0.25") == Shift("s1", "missing", 0.25)
    for bad, message in [
        ("bmi", "not COLUMN:KIND=NUMBER"),
        ("bmi:shift=1", "not COLUMN:KIND=NUMBER"),
        ("bmi:mean=a lot", "not COLUMN:KIND=NUMBER"),
        ("bmi:mean=nan", "not COLUMN:KIND=NUMBER"),
        ("sex:mix=1.5", "mix is a share of rows"),
    ]:
        with pytest.raises(UserError, match=message):
            parse_shift(bad)


def test_shifts_that_do_not_fit_the_data_are_refused(source):
    with pytest.raises(UserError, match="names column\\(s\\) weight not in the data"):
        simulate(source, 10, [Shift("weight", "mean", 1)], seed=0)
    with pytest.raises(UserError, match="needs a numeric column"):
        simulate(source, 10, [Shift("colour", "mean", 1)], seed=0)
    with pytest.raises(UserError, match="at least two values"):
        simulate(source.assign(sex=1.0), 10, [Shift("sex", "mix", 0.5)], seed=0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_run_writes_the_dataset(tmp_path, source, suffix):
    source.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "sim" / f"current{suffix}"
    run({}, str(out), 250, ["bmi:mean=1"], 7, source=str(tmp_path / "test.csv"))
    written = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(written) == 250
    assert written["bmi"].mean() > source["bmi"].mean() + 0.5 * source["bmi"].std()


def test_run_refuses_bad_arguments(tmp_path, source):
    source.to_csv(tmp_path / "test.csv", index=False)
    src = str(tmp_path / "test.csv")
    for kwargs, message in [
        ({"out": "x.json"}, "must end in .csv or .parquet"),
        ({"rows": 0}, "give a positive number of rows"),
        ({"source": str(tmp_path / "none.csv")}, "none.csv not found"),
    ]:
        args = {"out": str(tmp_path / "c.csv"), "rows": 10, "shifts": [], "seed": 0, "source": src, **kwargs}
        with pytest.raises(UserError, match=message):
            run({}, **args)
    assert not (tmp_path / "c.csv").exists()


def test_by_default_as_many_rows_as_the_source(tmp_path, source):
    # Drawing more rows than the source has repeats rows, which the drift tests would read as drift.
    source.to_csv(tmp_path / "test.csv", index=False)
    run({}, str(tmp_path / "c.csv"), None, [], 0, source=str(tmp_path / "test.csv"))
    assert len(pd.read_csv(tmp_path / "c.csv")) == len(source)
