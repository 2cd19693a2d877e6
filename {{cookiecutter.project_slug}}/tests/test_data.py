import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.data import BUNDLED, ingest, load_source
from {{ cookiecutter.package_name }}.errors import UserError


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_examples_load_offline_with_field_names(name):
    frame = load_source(name)
    assert len(frame) > 100
    assert all(column.isidentifier() and column == column.lower() for column in frame.columns)


def test_wine_has_string_class_labels():
    frame = load_source("wine")
    assert sorted(frame["target"].unique()) == ["class_0", "class_1", "class_2"]
    assert "od280_od315_of_diluted_wines" in frame.columns


@pytest.fixture
def table():
    return pd.DataFrame({"size": [1.5, None, 3.0], "plan": ["basic", "pro", None], "y": ["a", "b", "a"]})


def test_ingest_reads_a_csv_source_as_written(params, workdir, table):
    (workdir / "data/source").mkdir(parents=True)
    (workdir / "data/source/table.csv").write_text("size,plan,y\n1.50,basic,a\n,pro,b\n3,,a\n")
    params["data"]["source"] = "data/source/table.csv"
    out = ingest(params)
    # Cells as the file writes them: validate, not ingest, decides what they mean.
    assert out.read_text() == "size,plan,y\n1.50,basic,a\n,pro,b\n3,,a\n"


def test_ingest_reads_a_parquet_source(params, workdir, table):
    (workdir / "data/source").mkdir(parents=True)
    table.to_parquet(workdir / "data/source/table.parquet")
    params["data"]["source"] = "data/source/table.parquet"
    pd.testing.assert_frame_equal(pd.read_csv(ingest(params)), table)


@pytest.mark.parametrize("name", BUNDLED)
def test_ingest_writes_a_bundled_example(params, workdir, name):
    params["data"]["source"] = name
    assert pd.read_csv(ingest(params)).equals(load_source(name))


def test_a_url_source_says_how_to_import_it(params, workdir, capsys):
    params_text = (workdir / "params.yaml").read_text()
    url = "https://example.com/exports/churn.csv?version=3"
    lines = [
        f"  source: {url}" if line.startswith("  source:") else line for line in params_text.splitlines()
    ]
    (workdir / "params.yaml").write_text("\n".join(lines) + "\n")
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert f"dvc import-url {url} data/source/churn.csv" in err
    assert "set data.source to data/source/churn.csv" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("source", "content", "message"),
    [
        ("no_such_example", None, "neither a bundled example (breast_cancer, diabetes, wine) nor a .csv"),
        ("data/source/absent.csv", None, "data/source/absent.csv not found; `dvc pull` it"),
        ("data/source/table.xlsx", b"PK\x03\x04", "neither a bundled example"),
        ("data/source/broken.parquet", b"not parquet at all", "could not be read as parquet"),
        ("data/source/empty.csv", b"", "is empty"),
        ("data/source/latin1.csv", "name,town\nAda,London\nZoë,Orléans\n".encode("latin-1"), "line 3"),
    ],
    ids=["unknown name", "missing file", "unknown extension", "bad parquet", "empty csv", "not utf-8"],
)
def test_a_bad_source_is_one_sentence(workdir, source, content, message):
    if content is not None:
        (workdir / "data/source").mkdir(parents=True)
        (workdir / source).write_bytes(content)
    with pytest.raises(UserError) as raised:
        load_source(source)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_spreadsheets_utf8_csv_reads_the_same(workdir):
    # Spreadsheets save "CSV UTF-8" with a byte order mark in front of the header.
    (workdir / "plain.csv").write_text("name,town\nZoë,Orléans\n", encoding="utf-8")
    (workdir / "marked.csv").write_text("name,town\nZoë,Orléans\n", encoding="utf-8-sig")
    pd.testing.assert_frame_equal(load_source("marked.csv"), load_source("plain.csv"))
    assert list(load_source("marked.csv").columns) == ["name", "town"]


def test_non_utf8_names_the_byte(workdir):
    (workdir / "latin1.csv").write_bytes("name\nZoë\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"is not UTF-8 text \(byte 0xeb on line 2\); save it as UTF-8"):
        load_source("latin1.csv")


def test_a_failed_ingest_keeps_the_previous_raw_data(params, workdir, table):
    table.to_csv(workdir / "table.csv", index=False)
    params["data"]["source"] = "table.csv"
    ingest(params)
    before = (workdir / "data/raw/dataset.csv").read_bytes()
    params["data"]["source"] = "data/source/absent.csv"
    with pytest.raises(UserError):
        ingest(params)
    assert (workdir / "data/raw/dataset.csv").read_bytes() == before
