"""The prediction service (BentoML): the @champion model behind a typed HTTP API.

The request schema is generated from schema.yaml, so a request the model cannot score is
refused with a 400 naming the field before it reaches the model; before that, the request guard
refuses a body that is too large (413), not JSON (415, 400) or a batch of too many rows (400).
Concurrent requests reach the model as one batch (BentoML's adaptive batching). Every predicted
row is logged for the drift check, to a directory or an object store (monitoring.py).
"""

import gc
import itertools
import json
import logging
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import bentoml
import numpy as np
import pandas as pd

# BentoML's adaptive batching, used directly: its batchable APIs only batch calls that cross a
# process boundary. Pinned through uv.lock; the serve tests fail if it moves.
from bentoml._internal.marshal.dispatcher import CorkDispatcher
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, ConfigDict, Field, create_model

from . import monitoring
from .params import load_params, load_schema
from .request_guard import ClientErrorLog, Endpoint, RequestGuard

MLFLOW_MODEL_DIR = "mlflow_model"  # where bentoml.mlflow.import_model puts the MLflow model
MAX_CATEGORY_LENGTH = 200  # longest value of a category accepted as unknown (allow_unknown)
NUMBER_BYTES = len("-1.7976931348623157e+308")  # the longest JSON a float64 needs


def model_store_name(registered_model: str) -> str:
    """The BentoML model name for a registered model (BentoML allows fewer characters)."""
    return re.sub(r"[^a-z0-9_.-]+", "-", registered_model.lower()).strip("-.") or "model"


def _feature_type(spec: dict) -> Any:
    dtype = spec.get("dtype", "float")
    python_type = {"float": float, "int": int, "category": str}[dtype]
    if "allowed" in spec and not spec.get("allow_unknown"):
        annotation = Literal[tuple(python_type(value) for value in spec["allowed"])]
    elif python_type is str:
        # Accepted as unknown: any text of a length a category name can have, without control characters.
        annotation = Annotated[
            str, Field(min_length=1, max_length=MAX_CATEGORY_LENGTH, pattern=r"^[^\x00-\x1f\x7f]*$")
        ]
    else:
        bounds = {"ge": spec.get("min"), "le": spec.get("max")}
        constraints = {k: v for k, v in bounds.items() if v is not None}
        if python_type is float:
            constraints["allow_inf_nan"] = False
        annotation = Annotated[python_type, Field(**constraints)]
    # A nullable field must still be sent, as null: a forgotten field stays an error.
    return annotation | None if spec.get("nullable") else annotation


def max_body_bytes(schema: dict, rows: int) -> int:
    """The largest body a request of `rows` rows may send: twice the longest rows the schema admits.

    A row at its longest is compact JSON with every feature at its longest value: a float64 in
    NUMBER_BYTES characters, text of MAX_CATEGORY_LENGTH (or the longest allowed) characters each
    escaped as \\uXXXX (6 bytes), null. Twice that leaves room for the indentation and spaces a
    client may add; a larger body cannot be valid, so it is refused (413) before it is read or parsed.
    """
    row = 2  # {}
    for name, spec in schema["features"].items():
        if spec.get("dtype") == "category":
            unknown = [MAX_CATEGORY_LENGTH] if spec.get("allow_unknown") or not spec.get("allowed") else []
            value = 2 + 6 * max([len(str(v)) for v in spec.get("allowed", [])] + unknown)
        else:
            value = NUMBER_BYTES
        row += len(json.dumps(name)) + len(": ") + max(value, len("null")) + len(", ")
    return 2 * (len("[]") + rows * (row + len(", ")))


def request_model(schema: dict) -> type[BaseModel]:
    """One row of features: every column required, no others, strict types (no "1.5" for 1.5)."""
    fields = {name: (_feature_type(spec), ...) for name, spec in schema["features"].items()}
    return create_model("Features", __config__=ConfigDict(extra="forbid", strict=True), **fields)


# Read when the module is imported: at build time from the project, in the Bento from its copies.
PARAMS = load_params()
SCHEMA = load_schema()
CLASSIFICATION = PARAMS["task"] == "classification"
FEATURES = list(SCHEMA["features"])
# Rows travel to the model as one array; text categories and nulls need an object array.
ROW_DTYPE = (
    object
    if any(s.get("dtype") == "category" or s.get("nullable") for s in SCHEMA["features"].values())
    else np.float64
)
SERVICE = PARAMS.get("service") or {}
MAX_BATCH = int(SERVICE.get("max_batch", 100))
# A request waits at most this long for its batch; past it the batcher answers 503 (overloaded).
MAX_LATENCY_MS = int(SERVICE.get("max_latency_ms", 1000))
# BentoML keeps every request's context alive until its timeout timer fires, finished or not:
# a short timeout keeps that heap, and the collector's passes over it, small.
TIMEOUT = float(SERVICE.get("timeout_seconds", 2))
GC_YOUNG_THRESHOLD = 20_000
# `bento` records the exact model in the Bento's arguments; serving from source takes the latest import.
MODEL_TAG = getattr(bentoml.use_arguments(), "model", None) or (
    f"{model_store_name(PARAMS['mlflow']['registered_model'])}:latest"
)

CHAMPION = bentoml.models.BentoModel(MODEL_TAG)
Features = request_model(SCHEMA)


class Prediction(BaseModel):
    prediction: int | float | str = Field(description="the predicted class label, or value")
    probabilities: dict[str, float] | None = Field(None, description="classification: per class label")
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[int | float | str]
    probabilities: list[dict[str, float]] | None = None
    model_version: str


def _plain(value: Any) -> Any:
    """A numpy scalar as the JSON-friendly Python value (labels may be text or numbers)."""
    return value.item() if hasattr(value, "item") else value


def _overloaded() -> None:
    raise ServiceUnavailable("the service is overloaded: the model's queue is over its latency budget; retry")


def batched(infer_batches, max_latency_ms: int = MAX_LATENCY_MS):
    """`infer_batches` (a list of row arrays in, a list of results out) behind the adaptive batcher."""
    return CorkDispatcher(max_latency_ms, MAX_BATCH, fallback=_overloaded, get_batch_size=len)(infer_batches)


@bentoml.service(workers=1, traffic={"timeout": TIMEOUT}, metrics={"enabled": True})
class Predictor:
    """Validated requests in, predictions out, each one logged for monitoring.

    The model runs in this process behind BentoML's adaptive batcher (the CorkDispatcher its
    batchable APIs use): concurrent requests become one predict call, without the extra HTTP
    hop and serialization a second BentoML service would add to every request.
    """

    champion = CHAMPION  # declared here so the Bento packs the model with this service

    def __init__(self) -> None:
        import mlflow.sklearn

        self.model = mlflow.sklearn.load_model(self.champion.path_of(MLFLOW_MODEL_DIR))
        self.version = CHAMPION.stored.info.labels.get("model_version", "unknown")
        self.log = monitoring.open_log(monitoring.monitoring_dir(PARAMS), SERVICE)
        self._infer = batched(self._infer_batches)
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes, and collect young objects less often. Full passes over it and over the
        # requests BentoML keeps alive were 100-300 ms stalls: the p99 latency under load.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD)

    def infer(self, rows: np.ndarray) -> list[dict]:
        # An array, not a DataFrame, crosses the batcher: arrays concatenate cheaply.
        rows = pd.DataFrame(rows, columns=FEATURES)
        # The label is the most probable class, as predict() picks it: one pass over the trees, not two.
        if CLASSIFICATION:
            probabilities = self.model.predict_proba(rows)
            classes = self.model.classes_
            names = [str(c) for c in classes]  # JSON object keys are text
            return [
                {
                    "prediction": _plain(classes[p.argmax()]),
                    "probabilities": dict(zip(names, p.tolist(), strict=True)),
                }
                for p in probabilities
            ]
        return [{"prediction": value.item()} for value in self.model.predict(rows)]

    async def _infer_batches(self, batches: Sequence[np.ndarray]) -> list[list[dict]]:
        """One predict call for the rows of every waiting request; each gets its own rows back.

        It runs in the event loop's thread: the batcher sends one batch at a time anyway, and a
        worker thread cost a millisecond per call in hand-offs and GIL switches."""
        results = self.infer(np.concatenate(batches))
        bounds = np.cumsum([0, *(len(batch) for batch in batches)])
        return [results[start:end] for start, end in itertools.pairwise(bounds)]

    async def _predict(self, rows: list[BaseModel]) -> list[dict]:
        records = [row.model_dump() for row in rows]
        # null is NaN to the model's imputers, as a missing cell was in training.
        array = np.array(
            [[np.nan if record[name] is None else record[name] for name in FEATURES] for record in records],
            dtype=ROW_DTYPE,
        )
        results = await self._infer(array)
        self.log.append(
            self.version,
            records,
            [r["prediction"] for r in results],
            [r["probabilities"] for r in results] if CLASSIFICATION else None,
        )
        return results

    @bentoml.on_shutdown
    def flush_log(self) -> None:
        """An object-store log writes what it still buffers before the process ends."""
        self.log.flush()

    # Positional-only: the request body is the row itself (or the list of rows), nothing around it.
    @bentoml.api(route="/predict")
    async def predict(self, features: Features, /) -> Prediction:  # type: ignore[valid-type]
        """Predict one row: a JSON object of every feature."""
        (result,) = await self._predict([features])
        return Prediction(**result, model_version=self.version)

    # fail_fast: the errors of the first bad row only; a batch of bad rows costs no more to refuse than one.
    @bentoml.api(route="/predict_batch")
    async def predict_batch(
        self,
        rows: Annotated[list[Features], Field(min_length=1, max_length=MAX_BATCH, fail_fast=True)],  # type: ignore[valid-type]
        /,
    ) -> BatchPrediction:
        """Predict a JSON array of 1 to service.max_batch rows."""
        results = await self._predict(rows)
        return BatchPrediction(
            predictions=[r["prediction"] for r in results],
            probabilities=[r["probabilities"] for r in results] if CLASSIFICATION else None,
            model_version=self.version,
        )


# In front of both endpoints: size, type and row count are checked before BentoML reads the body.
Predictor.add_asgi_middleware(
    RequestGuard,
    endpoints={
        "/predict": Endpoint(max_body_bytes(SCHEMA, 1), len(FEATURES)),
        "/predict_batch": Endpoint(max_body_bytes(SCHEMA, MAX_BATCH), len(FEATURES), max_rows=MAX_BATCH),
    },
)
# BentoML logs each request it refuses through this logger of its HTTP app (bentoml pinned by
# uv.lock; the serve tests read the log, so a rename fails them rather than bringing tracebacks back).
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorLog())
