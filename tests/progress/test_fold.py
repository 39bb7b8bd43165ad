"""The store's saved, incremental fold equals the reference rules of `aipath.progress.derive`."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from aipath.progress import ProgressStore, derive


def _history(store: ProgressStore, seed: int) -> None:
    """Checks, hints, solutions and study logs of a few labs at awkward times."""
    rng = random.Random(seed)
    at = datetime(2026, 3, 28, 22, 50, tzinfo=UTC)  # a DST weekend in Europe
    labs = ["p1-a", "p1-b", "p2-c"]
    for _ in range(160):
        at += timedelta(seconds=rng.choice((1, 59, 600, 1799, 1800, 1801, 3600, 86_000)))
        lab = rng.choice(labs)
        roll = rng.random()
        if roll < 0.75:
            status = rng.choice(("failed", "passed", "error", "not-attempted"))
            store.record_check(lab, status, 0.2, at=at)
        elif roll < 0.85:
            store.record_hint(lab, rng.randint(1, 3), at=at)
        elif roll < 0.9:
            store.record_solution(lab, after_pass=rng.random() < 0.5, at=at)
        else:
            store.log_study(rng.choice((5.0, 15.0, 45.0)), topic_id="p1.python", at=at)


def _assert_same_as_reference(store: ProgressStore) -> None:
    events = store.events()
    want = derive.lab_states(events)
    got = store.lab_states()
    assert got.keys() == want.keys()
    for lab, state in want.items():
        assert replace(got[lab], minutes_spent=0) == replace(state, minutes_spent=0)
        assert got[lab].minutes_spent == pytest.approx(state.minutes_spent, abs=1e-3)
        assert store.lab_state(lab) == got[lab]
    for tz in (None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=7))):
        daily = store.daily_minutes(tz)
        reference = derive.daily_minutes(events, tz)
        assert daily.keys() == reference.keys()
        for day, minutes in reference.items():
            assert daily.get(day, 0.0) == pytest.approx(minutes, abs=1e-6)
        assert store.active_days(tz) == derive.active_days(events, tz)
    assert store.first_event_at() == events[0].at


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fold_equals_the_reference_rules(store: ProgressStore, seed: int) -> None:
    _history(store, seed)
    _assert_same_as_reference(store)


def test_appended_events_are_folded_in_and_older_ones_refold(store: ProgressStore) -> None:
    _history(store, 3)
    store.lab_states()  # saves the fold
    newest = store.events()[-1].at
    store.record_check("p1-a", "passed", 0.1, at=newest + timedelta(minutes=10))
    store.record_hint("p2-c", 2, at=newest + timedelta(minutes=11))
    _assert_same_as_reference(store)  # folded in
    store.record_check("p1-b", "passed", 0.1, at=newest - timedelta(days=3))  # an old one
    store.log_study(30, topic_id="p1.python", at=newest - timedelta(days=2))
    _assert_same_as_reference(store)  # folded again from the log
    data = store.export_json()
    assert store.import_json(data) == 0
    _assert_same_as_reference(store)


def test_an_empty_store_has_no_state(store: ProgressStore) -> None:
    assert store.lab_states() == {}
    assert store.daily_minutes() == {}
    assert store.active_days() == set()
    assert store.first_event_at() is None
    assert store.lab_state("p1-a").attempts == 0


def test_answers_kept_between_appends_and_a_saved_fold_many_events_old(
    store: ProgressStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aipath.progress import store as store_module

    monkeypatch.setattr(store_module, "SAVE_FOLD_EVERY", 7)
    _history(store, 4)
    zones = (None, timezone(timedelta(hours=-9, minutes=-30)))
    for tz in zones:  # the per-day answers are now held by the fold, then kept up to date
        store.daily_minutes(tz)
        store.active_days(tz)
    at = store.events()[-1].at
    for step in range(20):  # one event at a time, across local midnights, asked after each
        at += timedelta(minutes=47 * (step + 1))
        if step % 3 == 0:
            store.log_study(12.5, topic_id="p1.python", at=at)
        else:
            store.record_check("p1-a", "failed", 0.2, at=at)
        _assert_same_as_reference(store)
    derived = store._derived
    with store._engine.connect() as conn:
        payload = conn.execute(select(derived.c.payload).where(derived.c.name == "fold")).scalar()
    saved = store_module.Fold.from_json(payload)
    # 160 events folded and saved at once, then saved again at 167 and 174 of the 20 appended
    assert saved is not None and (saved.count, len(store.events())) == (174, 180)
    # A process with no fold in memory starts from the saved one and folds the rest.
    monkeypatch.setattr(store_module, "_FOLDS", {})
    with ProgressStore.open(store.url) as other:
        _assert_same_as_reference(other)
