import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data import ingest, load_source
from {{ cookiecutter.package_name }}.errors import UserError


def test_source_has_the_schema_columns(source_frame, schema):
    expected = [*schema["features"], schema["target"]["name"]]
    assert sorted(source_frame.columns) == sorted(expected)
    assert len(source_frame) > 100


def test_ingest_writes_the_raw_csv(params, workdir):
    ingest(params)
    assert len(pd.read_csv(workdir / "data/raw/dataset.csv")) > 100


def test_unknown_dataset_names_the_parameter():
    with pytest.raises(UserError, match="data.dataset"):
        load_source("no_such_dataset")
