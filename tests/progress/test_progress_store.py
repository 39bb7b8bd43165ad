"""The store's behaviour, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aipath.errors import AipathError
from aipath.progress import EXPORT_VERSION, LabState, Profile, ProgressStore

T0 = datetime(2027, 1, 4, 18, 0, tzinfo=UTC)


def test_lab_state_follows_checks_hints_and_solution(store: ProgressStore) -> None:
    store.record_check("p1-numpy-vectorize", "not-attempted", 0.4, at=T0)
    store.record_check(
        "p1-numpy-vectorize", "failed", 0.5, "1 of 4 failed", 3, 4, at=T0 + timedelta(minutes=10)
    )
    store.record_hint("p1-numpy-vectorize", 1, at=T0 + timedelta(minutes=11))
    store.record_hint("p1-numpy-vectorize", 1, at=T0 + timedelta(minutes=12))
    store.record_hint("p1-numpy-vectorize", 2, at=T0 + timedelta(minutes=13))
    store.record_check(
        "p1-numpy-vectorize", "passed", 0.6, "4 of 4", 4, 4, at=T0 + timedelta(minutes=25)
    )
    store.record_check("p1-numpy-vectorize", "failed", 0.6, at=T0 + timedelta(minutes=40))
    store.record_solution("p1-numpy-vectorize", after_pass=True, at=T0 + timedelta(minutes=41))

    state = store.lab_states()["p1-numpy-vectorize"]
    assert state.status == "failed"  # the latest check, not the best one
    assert state.ever_passed
    assert state.attempts == 4
    assert state.hints_shown == 2  # the repeated tier-1 hint counts once
    assert store.hints_shown("p1-numpy-vectorize") == 2
    assert state.solution_revealed
    assert state.last_checked == T0 + timedelta(minutes=40)
    assert state.first_passed == T0 + timedelta(minutes=25)
    assert state.minutes_spent == pytest.approx(40.0)


def test_measured_minutes_skip_gaps_over_half_an_hour(store: ProgressStore) -> None:
    times = [T0, T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)]  # session 1: 50 min
    times += [T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=5)]  # session 2: 5 min
    times += [T0 + timedelta(days=1)]  # a lone check: 0 min
    for at in times:
        store.record_check("p1-gradients", "failed", 1.0, at=at)
    assert store.lab_states()["p1-gradients"].minutes_spent == pytest.approx(55.0)


def test_unknown_lab_has_an_empty_state(store: ProgressStore) -> None:
    assert store.lab_states() == {}
    assert store.hints_shown("p9-nothing") == 0
    assert store.lab_state("p9-nothing") == LabState(lab_id="p9-nothing")


def test_notes_and_marks_keep_the_latest(store: ProgressStore) -> None:
    store.write_note("python", "asyncio clicked today", at=T0)
    store.write_note("python", "TaskGroup > gather for cancellation", at=T0 + timedelta(hours=1))
    store.write_note("math", "eigenvectors = axes that only stretch", at=T0)
    store.mark("python", "done", at=T0)
    store.mark("git", "skipped", at=T0)
    store.mark("math", "done", at=T0)
    store.mark("math", "pending", at=T0 + timedelta(minutes=1))
    assert store.notes() == {
        "python": "TaskGroup > gather for cancellation",
        "math": "eigenvectors = axes that only stretch",
    }
    assert store.marks() == {"python": "done", "git": "skipped"}
    # the log keeps every version
    assert len([e for e in store.events() if e.kind == "note"]) == 3


def test_mark_rejects_unknown_state(store: ProgressStore) -> None:
    with pytest.raises(AipathError, match="unknown mark 'finished'"):
        store.mark("python", "finished")


def test_study_log_and_daily_minutes(store: ProgressStore) -> None:
    store.log_study(90, resource_id="mml-book", note="chapter 2", at=T0)
    store.log_study(30, topic_id="math", at=T0 + timedelta(hours=1))
    store.record_check("p1-gradients", "failed", 1.0, at=T0 + timedelta(hours=2))
    store.record_check("p1-gradients", "passed", 1.0, at=T0 + timedelta(hours=2, minutes=15))
    study = [e for e in store.events() if e.kind == "study"]
    assert [(e.minutes, e.resource_id, e.topic_id, e.text) for e in study] == [
        (90.0, "mml-book", None, "chapter 2"),
        (30.0, None, "math", None),
    ]
    assert sum(store.daily_minutes().values()) == pytest.approx(135.0)


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_study_log_rejects_impossible_minutes(store: ProgressStore, minutes: int) -> None:
    with pytest.raises(AipathError, match="cannot log"):
        store.log_study(minutes)


def test_naive_times_are_refused(store: ProgressStore) -> None:
    with pytest.raises(AipathError, match="no time zone"):
        store.log_study(10, at=datetime(2027, 1, 4, 12, 0))


def test_events_since_and_order(store: ProgressStore) -> None:
    store.log_study(10, at=T0 + timedelta(days=2))
    store.log_study(20, at=T0)
    store.log_study(30, at=T0 + timedelta(days=1))
    assert [e.minutes for e in store.events()] == [20.0, 30.0, 10.0]
    assert [e.minutes for e in store.events(since=T0 + timedelta(days=1))] == [30.0, 10.0]
    assert all(e.at.tzinfo is not None for e in store.events())


def test_audits_round_trip_their_report(store: ProgressStore) -> None:
    report: dict[str, object] = {"checks": [{"name": "readme", "ok": True}], "notes": ["add CI"]}
    store.record_audit("/home/me/titanic", "tabular", 72, report, at=T0)
    store.record_audit("/home/me/rag", None, 40, {}, at=T0 + timedelta(days=3))
    audits = store.audits()
    assert [(a.path, a.kind, a.score) for a in audits] == [
        ("/home/me/titanic", "tabular", 72),
        ("/home/me/rag", None, 40),
    ]
    assert audits[0].report == report
    assert audits[0].at == T0


def test_profile_is_replaced(store: ProgressStore) -> None:
    assert store.get_profile() is None
    store.set_profile(Profile(start=date(2027, 1, 4), hours_per_week=20, background="beginner"))
    store.set_profile(
        Profile(start=date(2027, 2, 1), hours_per_week=12.5, background="developer", track="agents")
    )
    assert store.get_profile() == Profile(
        start=date(2027, 2, 1), hours_per_week=12.5, background="developer", track="agents"
    )


def test_profile_validates() -> None:
    with pytest.raises(AipathError, match="hours per week"):
        Profile(start=date(2027, 1, 4), hours_per_week=0)
    with pytest.raises(AipathError, match="unknown background"):
        Profile(start=date(2027, 1, 4), background="wizard")  # type: ignore[arg-type]
    with pytest.raises(AipathError, match="unknown track"):
        Profile(start=date(2027, 1, 4), track="robotics")  # type: ignore[arg-type]


def _fill(store: ProgressStore) -> None:
    store.set_profile(
        Profile(start=date(2027, 1, 4), hours_per_week=15, background="data-scientist", track="nlp")
    )
    store.record_check("p1-typing", "error", 2.25, "SyntaxError line 3", 0, 5, at=T0)
    store.record_check("p1-typing", "passed", 1.5, "5 of 5", 5, 5, at=T0 + timedelta(minutes=7))
    store.record_hint("p1-typing", 1, at=T0 + timedelta(minutes=3))
    store.record_solution("p1-typing", after_pass=False, at=T0 + timedelta(minutes=9))
    store.log_study(
        45, resource_id="fluent-python", note="ch. 8 — typing ✓", at=T0 + timedelta(hours=1)
    )
    store.write_note("python", "Protocols beat ABCs for duck typing\nsecond line", at=T0)
    store.mark("git", "skipped", at=T0)
    store.record_audit("/r", "tabular", 88, {"nested": {"x": [1, 2.5, None, "ü"]}}, at=T0)


def _without_stamp(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k != "exported_at"}


def test_export_import_round_trip_loses_nothing(store: ProgressStore, tmp_path: object) -> None:
    _fill(store)
    exported = store.export_json()
    assert exported["format"] == "aipath-progress"
    assert exported["version"] == EXPORT_VERSION
    text = json.dumps(exported)  # serializable as is

    other = ProgressStore.open(f"sqlite:///{tmp_path}/copy.db")
    try:
        assert other.import_json(json.loads(text)) == 8
        again = other.export_json()
        assert _without_stamp(again) == _without_stamp(json.loads(text))
        assert other.lab_states() == store.lab_states()
        assert other.notes() == store.notes()
        assert other.marks() == store.marks()
        assert other.audits() == store.audits()
        assert other.get_profile() == store.get_profile()
        # importing the same file again adds nothing
        assert other.import_json(json.loads(text)) == 0
        assert len(other.events()) == 8
    finally:
        other.close()


def test_import_into_this_backend_from_sqlite(store: ProgressStore, tmp_path: object) -> None:
    source = ProgressStore.open(f"sqlite:///{tmp_path}/source.db")
    try:
        _fill(source)
        doc = json.loads(json.dumps(source.export_json()))
    finally:
        source.close()
    assert store.import_json(doc) == 8
    assert _without_stamp(store.export_json()) == _without_stamp(doc)


def test_import_merges_with_existing_events(store: ProgressStore, tmp_path: object) -> None:
    store.log_study(10, at=T0)
    source = ProgressStore.open(f"sqlite:///{tmp_path}/source.db")
    try:
        source.log_study(20, at=T0 + timedelta(days=1))
        doc = source.export_json()
    finally:
        source.close()
    assert store.import_json(doc) == 1
    assert [e.minutes for e in store.events()] == [10.0, 20.0]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": "something-else", "version": 1}, "format"),
        ({"format": "aipath-progress", "version": 99}, "newer than this aipath"),
        (
            {"format": "aipath-progress", "version": 1, "events": [{"uid": "x", "kind": "check"}]},
            "events.0.at",
        ),
        (
            {
                "format": "aipath-progress",
                "version": 1,
                "events": [{"uid": "x", "at": "2027-01-04T10:00:00+00:00", "kind": "party"}],
            },
            "events.0.kind",
        ),
        (
            {
                "format": "aipath-progress",
                "version": 1,
                "events": [{"uid": "x", "at": "2027-01-04T10:00:00", "kind": "study"}],
            },
            "no time zone",
        ),
    ],
)
def test_import_rejects_broken_files(
    store: ProgressStore, doc: dict[str, object], message: str
) -> None:
    with pytest.raises(AipathError, match=message):
        store.import_json(doc)
    assert store.events() == []


def test_reopen_keeps_everything(db_url: str) -> None:
    first = ProgressStore.open(db_url)
    _fill(first)
    before = first.export_json()
    first.close()
    second = ProgressStore.open(db_url)
    try:
        assert _without_stamp(second.export_json()) == _without_stamp(before)
    finally:
        second.close()


def test_threads_share_one_store(store: ProgressStore) -> None:
    """The dashboard serves requests from a thread pool while checks are recorded."""
    from concurrent.futures import ThreadPoolExecutor

    def work(n: int) -> None:
        for i in range(10):
            store.record_check(f"p1-lab-{n}", "failed" if i < 9 else "passed", 0.1)
            store.lab_states()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    states = store.lab_states()
    assert sorted(states) == [f"p1-lab-{n}" for n in range(4)]
    assert all(s.attempts == 10 and s.ever_passed for s in states.values())


def _studies(count: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "uid": f"{start + i:032x}",
            "at": (T0 + timedelta(minutes=start + i)).isoformat(),
            "kind": "study",
            "minutes": 5.0,
        }
        for i in range(count)
    ]


def test_a_large_import_is_validated_in_batches_and_all_or_nothing(
    store: ProgressStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken event past the first batches names its own index and leaves the store empty."""
    import aipath.progress.store as module

    monkeypatch.setattr(module, "IMPORT_BATCH", 7)
    monkeypatch.setattr(module, "REINDEX_ABOVE", 10)
    events = _studies(30)
    events[23] = {**events[23], "kind": "party"}
    doc = {"format": "aipath-progress", "version": 1, "events": events}
    with pytest.raises(AipathError, match=r"events\.23\.kind"):
        store.import_json(doc)
    assert store.events() == []
    # The indexes dropped for the bulk insert came back with the rollback, and after a good one.
    events[23] = _studies(1, 23)[0]
    assert store.import_json(doc) == 30
    assert [e.minutes for e in store.events()] == [5.0] * 30
    from sqlalchemy import inspect

    engine = store._engine  # the schema itself is what is checked
    names = {index["name"] for index in inspect(engine).get_indexes("events")}
    assert {"ix_events_at", "ix_events_kind_lab", "ix_events_at_id"} <= names
    assert store.import_json(doc) == 0


def test_an_export_file_is_streamed_back_with_its_profile(
    store: ProgressStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import_file` reads the file lazily (events in batches), whatever order its members
    come in, and gives back what the document held."""
    import aipath.progress.store as module

    monkeypatch.setattr(module, "IMPORT_BATCH", 7)
    monkeypatch.setattr(module, "REINDEX_ABOVE", 10)
    profile = {"start": "2026-01-05", "hours_per_week": 12.0, "background": "data-scientist"}
    # The profile after the events: read by the slower token-by-token path.
    text = json.dumps(
        {"format": "aipath-progress", "version": 1, "events": _studies(30), "profile": profile}
    )
    path = tmp_path / "late-profile.json"
    path.write_text(text)
    done = store.import_file(path)
    assert (done.added, done.total, done.profile_in_file) == (30, 30, True)
    kept = store.get_profile()
    assert kept is not None and kept.hours_per_week == 12.0
    # What `aipath export` writes streams back to the same events, and adds nothing twice.
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(store.export_json()))
    again = store.import_file(exported)
    assert (again.added, again.total) == (0, 30)


def test_a_broken_export_file_names_the_place_and_changes_nothing(
    store: ProgressStore, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    events = _studies(12)
    text = json.dumps({"format": "aipath-progress", "version": 1, "events": events})
    path.write_text(text[: len(text) // 2])  # cut off in the middle of the events
    with pytest.raises(AipathError, match=r"not valid JSON \(line 1, column"):
        store.import_file(path)
    assert store.events() == []
    path.write_text(json.dumps({"format": "aipath-progress", "version": 1, "events": None}))
    with pytest.raises(AipathError, match=r"events: Input should be a valid list"):
        store.import_file(path)
    path.write_text("[1, 2]")
    with pytest.raises(AipathError, match="expected a JSON object"):
        store.import_file(path)


def test_an_import_keeps_times_in_other_zones_and_data_of_any_size(store: ProgressStore) -> None:
    """The fast insert path converts to UTC and encodes data the standard encoder would take."""
    events = [
        {
            "uid": "zone",
            "at": "2027-03-01T20:30:00.250000+02:00",
            "kind": "check",
            "lab_id": "p1-numpy-vectorize",
            "status": "passed",
            "data": {"tests": [1, 2.5, None]},
        },
        {
            "uid": "bigint",
            "at": "2027-03-01T18:31:00+00:00",
            "kind": "note",
            "topic_id": "p1.python",
            "text": "x",
            "data": {"n": 2**70, "s": "é"},
        },
        {
            "uid": "empty",
            "at": "2027-03-01T18:32:00Z",
            "kind": "hint",
            "lab_id": "p1-numpy-vectorize",
            "tier": 1,
        },
    ]
    doc = {"format": "aipath-progress", "version": 1, "events": events}
    assert store.import_json(json.loads(json.dumps(doc))) == 3
    got = {e.uid: e for e in store.events()}
    assert got["zone"].at == datetime(2027, 3, 1, 18, 30, 0, 250000, tzinfo=UTC)
    assert got["zone"].data == {"tests": [1, 2.5, None]}
    assert got["bigint"].data == {"n": 2**70, "s": "é"}
    assert got["empty"].data == {} and got["empty"].tier == 1
