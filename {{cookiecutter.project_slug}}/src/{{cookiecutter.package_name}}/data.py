"""The ingest stage: the one place that knows where raw data comes from.

Replace `load_source` with your own source (a warehouse query, files in a bucket,
...) and keep its contract: a DataFrame with the columns of schema.yaml.
"""

from pathlib import Path

import pandas as pd
from sklearn import datasets

from .errors import UserError

RAW_PATH = Path("data/raw/dataset.csv")

# Bundled with scikit-learn, so the example runs offline.
_LOADERS = {
    "breast_cancer": lambda: datasets.load_breast_cancer(as_frame=True).frame,
    "diabetes": lambda: datasets.load_diabetes(as_frame=True, scaled=False).frame,
}


def load_source(dataset: str) -> pd.DataFrame:
    if dataset not in _LOADERS:
        raise UserError(
            f"params.yaml data.dataset is {dataset!r}; use one of {', '.join(_LOADERS)} "
            "or replace load_source in data.py with your own source."
        )
    frame = _LOADERS[dataset]()
    # snake_case names are valid identifiers: the service's request fields use them.
    frame.columns = [str(c).strip().replace(" ", "_") for c in frame.columns]
    return frame


def ingest(params: dict, out: Path = RAW_PATH) -> Path:
    frame = load_source(params["data"]["dataset"])
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out
