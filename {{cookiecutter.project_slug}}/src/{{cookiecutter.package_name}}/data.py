"""The ingest stage: the one place that knows where raw data comes from.

params.yaml `data.source` names the source:
  - a bundled scikit-learn example (breast_cancer, diabetes, wine), read offline;
  - a CSV or parquet file in the repository, kept in data/source/ and tracked with `dvc add`
    (dvc.yaml makes data/source a dependency of ingest, so a new version of the file re-runs it);
  - a remote file is brought into data/source/ with `dvc import-url` first (`source add URL`),
    so that DVC records its version and `dvc update` fetches a new one.
Replace `load_source` to read anything else (a warehouse query, ...) and keep its contract: a
DataFrame with the columns of schema.yaml.
"""

import os
import re
from pathlib import Path

import pandas as pd

from .errors import UserError

RAW_PATH = Path("data/raw/dataset.csv")
SOURCE_DIR = Path("data/source")
FILE_TYPES = (".csv", ".parquet")
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # http(s)://, s3://, gs://, azure://, ...


def _bundled(name: str) -> pd.DataFrame:
    from sklearn import datasets  # here: the other commands need not pay for its import

    if name == "wine":
        bunch = datasets.load_wine(as_frame=True)
        # String class labels, as most real targets are: class_0, class_1, class_2.
        return bunch.frame.assign(target=bunch.target_names[bunch.target.to_numpy()])
    if name == "diabetes":
        return datasets.load_diabetes(as_frame=True, scaled=False).frame
    return datasets.load_breast_cancer(as_frame=True).frame


# Bundled with scikit-learn, so the examples run offline.
BUNDLED = ("breast_cancer", "diabetes", "wine")


def snake_case(name: object) -> str:
    """'mean radius' -> 'mean_radius', 'od280/od315' -> 'od280_od315': names the service can use as fields."""
    return re.sub(r"\W+", "_", str(name).strip()).strip("_").lower()


def is_remote(source: str) -> bool:
    return bool(REMOTE.match(source))


def _first_undecodable_line(path: Path) -> tuple[int, str]:
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return number, f"byte 0x{line[exc.start]:02x}"
    return 0, "a byte"


def read_file(path: Path, text: bool = True) -> pd.DataFrame:
    """A CSV or parquet file as a DataFrame, or UserError in one sentence.

    With `text`, CSV cells stay text as written (validate converts and checks them) and
    missing cells are NA.
    """
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise UserError(f"{path} is neither .csv nor .parquet; save the data in one of those formats.")
    if not path.is_file():
        raise UserError(
            f"{path} not found; `dvc pull` it if DVC tracks it, or bring the file in with "
            "`{{ cookiecutter.package_name }} source add FILE_OR_URL`."
        )
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str if text else None, encoding="utf-8-sig")  # BOM or not
    except UnicodeDecodeError as exc:
        line, what = _first_undecodable_line(path)
        raise UserError(
            f"{path} is not UTF-8 text ({what} on line {line}); save it as UTF-8 "
            "(in a spreadsheet: CSV UTF-8)."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path} is empty; give a file with a header line and rows.") from exc
    except pd.errors.ParserError as exc:
        raise UserError(f"{path} is not a well-formed CSV ({str(exc).strip()}); fix the file.") from exc
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise UserError(f"{path} could not be read as {suffix[1:]} ({exc}); check the file.") from exc


def load_source(source: str, root: Path = Path(".")) -> pd.DataFrame:
    """The data `data.source` names; file paths are relative to `root` (the project)."""
    source = str(source)
    if source in BUNDLED:
        frame = _bundled(source)
        frame.columns = [snake_case(c) for c in frame.columns]
        return frame
    if is_remote(source):
        name = Path(source.split("?")[0]).name or "data.csv"
        raise UserError(
            f"params.yaml data.source is the URL {source}; bring it in with "
            f"`dvc import-url {source} {SOURCE_DIR / name}` (DVC then records its version and notices "
            f"when it changes) and set data.source to {SOURCE_DIR / name}; "
            f"`{{ cookiecutter.package_name }} source add {source}` does both."
        )
    if Path(source).suffix.lower() not in FILE_TYPES:
        raise UserError(
            f"params.yaml data.source is {source!r}: neither a bundled example ({', '.join(BUNDLED)}) "
            "nor a .csv or .parquet file; set one of those."
        )
    return read_file(root / source)


def write_csv(frame: pd.DataFrame, out: Path) -> Path:
    """Write, then rename: a failure leaves the previous file as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    frame.to_csv(partial, index=False)
    os.replace(partial, out)
    return out


def ingest(params: dict, out: Path = RAW_PATH) -> Path:
    source = (params.get("data") or {}).get("source")
    if not source:
        raise UserError(
            "params.yaml has no data.source; set it to a bundled example, or a CSV or parquet file "
            "under data/source/."
        )
    return write_csv(load_source(source), out)
