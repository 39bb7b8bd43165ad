"""The progress store: append events, derive state, export and import.

Every write is its own short transaction, committed before the method returns,
so a process killed at any moment leaves every earlier event on disk and never
a half-written one.  Reads fetch the events and derive state in Python
(:mod:`aipath.progress.derive`); a learner produces thousands of events, not
millions, and one derivation shared by every backend is easier to trust than
per-dialect SQL.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

import orjson
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from aipath.errors import AipathError
from aipath.progress import derive, export_file
from aipath.progress.engine import (
    IMMEDIATE,
    SCHEMA_HEAD,
    make_engine,
    migrate,
    parse_url,
    safe_url,
    stored_revision,
)
from aipath.progress.fold import Fold
from aipath.progress.location import ENV_DATABASE_URL as ENV_DATABASE_URL
from aipath.progress.location import default_db_url as default_db_url
from aipath.progress.models import Base
from aipath.progress.types import (
    AuditRecord,
    Event,
    EventKind,
    LabState,
    Profile,
    parse_background,
    parse_mark_state,
    parse_track,
)

EXPORT_FORMAT: Final = "aipath-progress"
EXPORT_VERSION: Final = 1
MAX_STUDY_MINUTES: Final = 24 * 60
IMPORT_BATCH: Final = 5_000
# Above this many new events, an import rebuilds the secondary indexes once instead of
# updating them row by row (sorting once is about twice as fast on SQLite).
REINDEX_ABOVE: Final = 20_000
IMPORT_CACHE_KIB: Final = 16_384  # an import's SQLite page cache (the default is 2 MB)
_EVENT_COLUMNS: Final = (
    "uid",
    "at",
    "kind",
    "lab_id",
    "topic_id",
    "resource_id",
    "status",
    "duration_s",
    "tier",
    "minutes",
    "text",
    "data",
)


_DRIVER_INSERT: Final = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _EVENT_COLUMNS)})"
)


def _json_text(data: dict[str, Any] | None) -> str:
    """``data`` as the JSON column stores it; orjson, with the standard encoder for what it
    refuses (an integer beyond 64 bits)."""
    if not data:
        return "{}"
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data)


def _driver_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Validated event rows as SQLite's driver takes them: naive UTC text, JSON text.

    SQLAlchemy's per-row parameter processing costs more than SQLite's own insert; this stores
    what the column types read back as the same values (JSON written compactly).
    """
    values: list[tuple[Any, ...]] = []
    append = values.append
    for row in rows:  # the order of _EVENT_COLUMNS
        at = row["at"]  # aware: event_batches refuses a time without a zone
        offset = at.utcoffset()
        if offset:
            at = at - offset
        get = row.get
        append(
            (
                row["uid"],
                at.replace(tzinfo=None).isoformat(" ", "microseconds"),  # faster than strftime
                row["kind"],
                get("lab_id"),
                get("topic_id"),
                get("resource_id"),
                get("status"),
                get("duration_s"),
                get("tier"),
                get("minutes"),
                get("text"),
                _json_text(get("data")),
            )
        )
    return values


@dataclass(frozen=True)
class Imported:
    """What an import did: events new to the store, events in the file, a profile in it."""

    added: int
    total: int
    profile_in_file: bool


def _require_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AipathError(f"{what} must be a non-empty id, got {value!r}")
    if len(value) > 128:
        raise AipathError(f"{what} {value[:40]!r}… is longer than 128 characters")
    return value.strip()


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return derive.utc_now()
    if at.tzinfo is None:
        raise AipathError(
            f"time {at.isoformat()} has no time zone",
            hint="pass an aware datetime, e.g. datetime.now(UTC)",
        )
    return at.astimezone(UTC)


# The newest fold this process has read, per database: every page and command opens its own
# store, and decoding the saved fold again for each cost more than the page's own work.  A
# published fold is never changed (it is copied to be extended), so threads may share it.
_FOLDS: dict[str, Fold] = {}
_FOLDS_LOCK = threading.Lock()
# The saved fold is brought up to date after this many new events, not after each: saving
# writes the whole fold (55 ms at 200,000 events), while folding a few hundred events on
# top of an older one, in a process that has no fold in memory, takes a millisecond or two.
SAVE_FOLD_EVERY = 256


def _shared_fold(url: str) -> Fold | None:
    with _FOLDS_LOCK:
        return _FOLDS.get(url)


def _share_fold(url: str, fold: Fold) -> None:
    with _FOLDS_LOCK:
        _FOLDS[url] = fold  # the newest read; a slower thread's older one is merely extended


def _same_time(stored: object, folded: datetime | None) -> bool:
    """Whether the log's newest time is the fold's (a store recreated with as many events
    as before has other times)."""
    if stored is None or folded is None:
        return stored is None and folded is None
    if isinstance(stored, str):
        stored = datetime.fromisoformat(stored)
    if not isinstance(stored, datetime):
        return False

    def utc(at: datetime) -> datetime:  # the store keeps UTC; a driver may hand it back naive
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

    return utc(stored) == utc(folded)


class ProgressStore:
    """The learner's event log and the state derived from it, behind one small API."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url
        self._events: Table = Base.metadata.tables["events"]
        self._profile: Table = Base.metadata.tables["profile"]
        self._derived: Table = Base.metadata.tables["derived_state"]
        self._held_fold: Fold | None = None  # the last fold this store read, checked on reuse
        # SQLite has one writer at a time, so an id is visible only after every smaller one:
        # the newest id and time tell whether anything was appended.  A server can commit a
        # smaller id late, which only the count shows (count(*) costs 4 ms at 200,000 events,
        # and a page asks four or five times).
        self._ids_in_commit_order = engine.dialect.name == "sqlite"

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str) -> ProgressStore:
        """Open (creating and migrating as needed) the store at a SQLAlchemy URL."""
        parsed = parse_url(url)
        shown = safe_url(parsed)
        engine = make_engine(url)
        try:
            if stored_revision(engine) != SCHEMA_HEAD:
                cls._migrate(engine, shown)
        except AipathError:
            engine.dispose()
            raise
        except OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise AipathError(
                f"cannot open the progress store at {shown}: {reason}",
                hint="check the path or server, or pass another store with --db URL "
                "or AIPATH_DATABASE_URL",
            ) from exc
        except SQLAlchemyError as exc:
            engine.dispose()
            raise AipathError(f"cannot open the progress store at {shown}: {exc}") from exc
        return cls(engine, url)

    @staticmethod
    def _migrate(engine: Engine, shown: str) -> None:
        from alembic.util.exc import CommandError

        try:
            migrate(engine)
        except CommandError as exc:
            raise AipathError(
                f"the progress store at {shown} has a schema this aipath does not know ({exc})",
                hint=f"it was written by a newer aipath; upgrade aipath (this one knows up to "
                f"revision {SCHEMA_HEAD})",
            ) from exc

    def close(self) -> None:
        """Release connections (the data is already committed)."""
        self._engine.dispose()

    def __enter__(self) -> ProgressStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: shown by ``aipath status`` and used by tests."""
        return self._engine.dialect.name

    # -- writing -----------------------------------------------------------------------------
    def _write_conn(self) -> Connection:
        return self._engine.connect().execution_options(**{IMMEDIATE: True})

    def _append(self, kind: str, at: datetime | None = None, **fields: Any) -> None:
        row: dict[str, Any] = {column: None for column in _EVENT_COLUMNS}
        row.update(fields)
        row.update(uid=uuid.uuid4().hex, at=_aware(at), kind=kind)
        row["data"] = dict(fields.get("data") or {})
        with self._write_conn() as conn, conn.begin():
            conn.execute(insert(self._events), [row])

    def record_check(
        self,
        lab_id: str,
        status: str,
        duration_s: float,
        summary: str = "",
        tests_passed: int = 0,
        tests_total: int = 0,
        *,
        at: datetime | None = None,
    ) -> None:
        """A check ran: its status (passed/failed/not-attempted/error), how long it took, the counts."""
        if not status or len(status) > 32:
            raise AipathError(f"check status must be a short word, got {status!r}")
        if duration_s < 0:
            raise AipathError(f"check duration must not be negative, got {duration_s}")
        self._append(
            "check",
            at,
            lab_id=_require_id(lab_id, "lab id"),
            status=status,
            duration_s=float(duration_s),
            text=summary or None,
            data={"tests_passed": int(tests_passed), "tests_total": int(tests_total)},
        )

    def record_hint(self, lab_id: str, tier: int, *, at: datetime | None = None) -> None:
        """A hint of ``tier`` was shown for a lab (tiers go nudge → approach → near-solution)."""
        if tier < 0:
            raise AipathError(f"hint tier must not be negative, got {tier}")
        self._append("hint", at, lab_id=_require_id(lab_id, "lab id"), tier=int(tier))

    def record_solution(self, lab_id: str, after_pass: bool, *, at: datetime | None = None) -> None:
        """The reference solution was shown; ``after_pass`` says whether the learner had passed."""
        self._append(
            "solution",
            at,
            lab_id=_require_id(lab_id, "lab id"),
            data={"after_pass": bool(after_pass)},
        )

    def record_audit(
        self,
        path: str,
        kind: str | None,
        score: int,
        report: Mapping[str, object],
        *,
        at: datetime | None = None,
    ) -> None:
        """A portfolio audit of the repository at ``path`` scored ``score`` with ``report``."""
        self._append(
            "audit",
            at,
            text=str(path),
            data={"path": str(path), "kind": kind, "score": int(score), "report": dict(report)},
        )

    def log_study(
        self,
        minutes: float,
        *,
        resource_id: str | None = None,
        topic_id: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Study time outside the labs (reading, a video, a course), against a resource or topic."""
        if not 0 < minutes <= MAX_STUDY_MINUTES:
            raise AipathError(
                f"cannot log {minutes:g} minutes in one entry",
                hint=f"log between 1 minute and {MAX_STUDY_MINUTES // 60} hours at a time",
            )
        self._append(
            "study",
            at,
            minutes=float(minutes),
            resource_id=_require_id(resource_id, "resource id") if resource_id else None,
            topic_id=_require_id(topic_id, "topic id") if topic_id else None,
            text=note or None,
        )

    def write_note(self, topic_id: str, text: str, *, at: datetime | None = None) -> None:
        """Replace the learner's note on a topic (the old text stays in the log)."""
        self._append("note", at, topic_id=_require_id(topic_id, "topic id"), text=text)

    def mark(self, topic_id: str, state: str, *, at: datetime | None = None) -> None:
        """Mark a topic done or skipped, or back to pending."""
        self._append(
            "mark", at, topic_id=_require_id(topic_id, "topic id"), status=parse_mark_state(state)
        )

    # -- reading -----------------------------------------------------------------------------
    @staticmethod
    def _to_event(row: RowMapping) -> Event:
        return Event(
            id=int(row["id"]),
            uid=str(row["uid"]),
            at=row["at"],
            kind=cast(EventKind, str(row["kind"])),
            lab_id=row["lab_id"],
            topic_id=row["topic_id"],
            resource_id=row["resource_id"],
            status=row["status"],
            duration_s=row["duration_s"],
            tier=row["tier"],
            minutes=row["minutes"],
            text=row["text"],
            data=dict(row["data"] or {}),
        )

    def events(self, since: datetime | None = None) -> list[Event]:
        """Events in time order (ties in insertion order), optionally only those at/after ``since``."""
        query = select(self._events)
        if since is not None:
            query = query.where(self._events.c.at >= _aware(since))
        query = query.order_by(self._events.c.at, self._events.c.id)
        with self._engine.connect() as conn:
            return [self._to_event(r) for r in conn.execute(query).mappings()]

    def _events_of(self, *kinds: str, lab_id: str | None = None) -> list[Event]:
        query = select(self._events).where(self._events.c.kind.in_(kinds))
        if lab_id is not None:
            query = query.where(self._events.c.lab_id == lab_id)
        query = query.order_by(self._events.c.at, self._events.c.id)
        with self._engine.connect() as conn:
            return [self._to_event(r) for r in conn.execute(query).mappings()]

    def _fold(self) -> Fold:
        """The running fold of the log: the saved one plus the events appended since.

        The saved fold is trusted only when the events after its last id bring the count to
        the log's and come after it in time; anything else (an import of older history, an
        id committed late on a server) folds the whole log again, then saves that.
        """
        columns = (
            self._events.c.id,
            self._events.c.at,
            self._events.c.kind,
            self._events.c.lab_id,
            self._events.c.status,
            self._events.c.tier,
            self._events.c.minutes,
        )
        order = (self._events.c.at, self._events.c.id)
        saved: Any = None
        with self._engine.connect() as conn:
            # Separate statements, not one: SQLite answers max(id) and max(at) from the ends of
            # their indexes and count(*) from the smallest index, but the aggregates in one
            # SELECT scan every row (36 ms instead of 1.7 ms at 200,000 events, and a page asks
            # four or five times).
            last = conn.execute(select(func.max(self._events.c.id))).scalar()
            newest = conn.execute(select(func.max(self._events.c.at))).scalar()
            last_id = int(last or 0)
            held = self._held_fold or _shared_fold(self.url)
            total: int | None = None  # unknown, and not needed, where ids come in order
            if not self._ids_in_commit_order:
                count = conn.execute(select(func.count()).select_from(self._events)).scalar()
                total = int(count or 0)
            if (
                held is not None
                and last_id == held.last_id
                and total in (None, held.count)
                and _same_time(newest, held.last_at)
            ):
                self._held_fold = held
                return held  # nothing appended since this process last folded
            if held is not None:
                fold: Fold | None = held.copy()  # extend a copy: others may be reading it
            else:
                saved = conn.execute(
                    select(self._derived.c.payload).where(self._derived.c.name == "fold")
                ).scalar()
                fold = Fold.from_json(saved) if saved is not None else None
            fresh: list[Any] = []
            if fold is not None:
                # By primary key, sorted here: an ORDER BY (at, id) would scan the whole index.
                fresh = sorted(
                    conn.execute(select(*columns).where(self._events.c.id > fold.last_id)),
                    key=lambda row: (row.at, row.id),
                )
                lost = total is not None and fold.count + len(fresh) != total
                if lost or (fresh and not fold.accepts(fresh[0].at)):
                    fold = None
            rebuilt = fold is None
            if fold is None:
                fold = Fold()
                fresh = list(conn.execute(select(*columns).order_by(*order)))
        for row in fresh:
            fold.add(
                id=row.id,
                at=row.at,
                kind=row.kind,
                lab_id=row.lab_id,
                status=row.status,
                tier=row.tier,
                minutes=row.minutes,
            )
        if rebuilt or fold.count - fold.saved_count >= SAVE_FOLD_EVERY:
            self._save_fold(fold)
        self._held_fold = fold
        _share_fold(self.url, fold)
        return fold

    def _save_fold(self, fold: Fold) -> None:
        try:
            with self._write_conn() as conn, conn.begin():
                conn.execute(delete(self._derived).where(self._derived.c.name == "fold"))
                conn.execute(insert(self._derived), [{"name": "fold", "payload": fold.to_json()}])
        except SQLAlchemyError:
            return  # a cache: another process saved one at the same moment, or the store is busy
        fold.saved_count = fold.count

    def lab_states(self) -> dict[str, LabState]:
        """One state per lab that has any check, hint or solution event."""
        return self._fold().lab_states()

    def lab_state(self, lab_id: str) -> LabState:
        """The state of one lab (an empty state before its first event)."""
        return self.lab_states().get(lab_id, LabState(lab_id=lab_id))

    def hints_shown(self, lab_id: str) -> int:
        """How many distinct hint tiers the learner has seen for a lab."""
        return self.lab_state(lab_id).hints_shown

    def notes(self) -> dict[str, str]:
        """The latest note per topic."""
        return derive.latest_notes(self._events_of("note"))

    def marks(self) -> dict[str, str]:
        """Topics marked done or skipped (pending ones are left out)."""
        return derive.latest_marks(self._events_of("mark"))

    def audits(self) -> list[AuditRecord]:
        """Portfolio audits, oldest first."""
        return derive.audit_records(self._events_of("audit"))

    def daily_minutes(self, tz: tzinfo | None = None) -> dict[date, float]:
        """Study minutes per local day (logged plus measured, see :mod:`aipath.progress.derive`)."""
        return self._fold().daily_minutes(tz)

    def active_days(self, tz: tzinfo | None = None) -> set[date]:
        """Local days with any event (the streak is counted from them)."""
        return self._fold().active_days(tz)

    def first_event_at(self) -> datetime | None:
        """The time of the oldest event, or None for an empty store."""
        return self._fold().first_at

    def study_events(self) -> list[Event]:
        """Hours logged with `aipath log`, oldest first."""
        return self._events_of("study")

    def study_minutes_by_resource(self) -> dict[str, float]:
        """Minutes logged against each resource (`aipath log --resource`), summed by the database.

        The roadmap page needs only these sums; reading every study event of a long history
        to add them up cost half a second at 200,000 events.
        """
        e = self._events.c
        query = (
            select(e.resource_id, func.sum(e.minutes))
            .where(e.kind == "study", e.resource_id.is_not(None), e.minutes.is_not(None))
            .group_by(e.resource_id)
        )
        with self._engine.connect() as conn:
            return {str(rid): float(total) for rid, total in conn.execute(query) if total}

    # -- profile -----------------------------------------------------------------------------
    def get_profile(self) -> Profile | None:
        """The stored profile, or ``None`` before the first ``aipath plan``."""
        with self._engine.connect() as conn:
            row = conn.execute(select(self._profile).where(self._profile.c.id == 1)).mappings()
            found = row.first()
        if found is None:
            return None
        return Profile(
            start=found["start"],
            hours_per_week=float(found["hours_per_week"]),
            background=parse_background(found["background"]),
            track=parse_track(found["track"]),
        )

    def set_profile(self, profile: Profile, *, updated_at: datetime | None = None) -> None:
        """Store the profile, replacing the previous one."""
        values = {
            "id": 1,
            "start": profile.start,
            "hours_per_week": float(profile.hours_per_week),
            "background": profile.background,
            "track": profile.track,
            "updated_at": _aware(updated_at),
        }
        with self._write_conn() as conn, conn.begin():
            conn.execute(delete(self._profile))
            conn.execute(insert(self._profile), [values])

    # -- export / import ---------------------------------------------------------------------
    def export_json(self) -> dict[str, object]:
        """Everything in the store as a versioned, JSON-serializable document."""
        with self._engine.connect() as conn:
            prof = conn.execute(select(self._profile)).mappings().first()
            rows = list(conn.execute(select(self._events).order_by(self._events.c.id)).mappings())
        profile: dict[str, object] | None = None
        if prof is not None:
            profile = {
                "start": prof["start"].isoformat(),
                "hours_per_week": float(prof["hours_per_week"]),
                "background": prof["background"],
                "track": prof["track"],
                "updated_at": prof["updated_at"].isoformat(),
            }
        events: list[dict[str, object]] = []
        for row in rows:
            item: dict[str, object] = {column: row[column] for column in _EVENT_COLUMNS}
            item["at"] = row["at"].isoformat()
            item["data"] = dict(row["data"] or {})
            events.append(item)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "schema_revision": SCHEMA_HEAD,
            "exported_at": derive.utc_now().isoformat(),
            "profile": profile,
            "events": events,
        }

    def _insert_events(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert validated event rows (see :func:`_driver_rows` for SQLite's fast path)."""
        if not rows:
            return
        if self.dialect != "sqlite":
            # One shape for every row (an exported event may leave optional fields out).
            full = [{name: row.get(name) for name in _EVENT_COLUMNS} for row in rows]
            for row in full:
                row["data"] = row["data"] or {}
            conn.execute(insert(self._events), full)
            return
        conn.exec_driver_sql(_DRIVER_INSERT, _driver_rows(rows))

    def _import_batches(
        self, events: Iterable[Any], known: set[str]
    ) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(events read, the new ones ready to insert) per batch; ``known`` grows as it goes."""
        for batch in export_file.event_batches(events, IMPORT_BATCH):
            new_rows: list[dict[str, Any]] = []
            for ev in batch:
                if ev["uid"] in known:
                    continue
                known.add(ev["uid"])
                new_rows.append(cast(dict[str, Any], ev))
            yield len(batch), new_rows

    def import_json(self, data: Mapping[str, object], *, replace_profile: bool = False) -> int:
        """Merge an export document into this store; returns how many events were new.

        Events are matched on ``uid``, so importing the same file twice adds nothing.  The
        file's profile is taken only when this store has none, or with ``replace_profile``: an
        import never silently changes the learner's week and background.
        """
        if not isinstance(data, Mapping):
            raise AipathError("import file is not a JSON object", hint=export_file.HINT)
        header = {key: value for key, value in data.items() if key != "events"}
        events = data.get("events", [])
        header["events"] = events if not isinstance(events, list) else []
        raw = events if isinstance(events, list) else []
        return self._import(header, raw, replace_profile=replace_profile).added

    def import_file(
        self, path: Path | export_file.ExportFile, *, replace_profile: bool = False
    ) -> Imported:
        """:meth:`import_json` of a file, streamed: memory stays bounded however long it is.

        Pass an :class:`~aipath.progress.export_file.ExportFile` already opened to have a
        missing or broken file reported before the store is touched.
        """
        document = (
            path if isinstance(path, export_file.ExportFile) else export_file.ExportFile(path)
        )
        return self._import(document.header, document.events(), replace_profile=replace_profile)

    def _import(
        self, header: dict[str, Any], events: Iterable[Any], *, replace_profile: bool
    ) -> Imported:
        version = header.get("version")
        if isinstance(version, int) and version > EXPORT_VERSION:
            raise AipathError(
                f"export version {version} is newer than this aipath understands ({EXPORT_VERSION})",
                hint="upgrade aipath, then import again",
            )
        parsed = export_file.parse_header(header)
        profile_row: dict[str, object] | None = None
        if parsed.profile is not None:
            p = parsed.profile
            checked = Profile(
                start=p.start,
                hours_per_week=p.hours_per_week,
                background=parse_background(p.background),
                track=parse_track(p.track),
            )
            profile_row = {
                "id": 1,
                "start": checked.start,
                "hours_per_week": checked.hours_per_week,
                "background": checked.background,
                "track": checked.track,
                "updated_at": _aware(p.updated_at) if p.updated_at else derive.utc_now(),
            }
        added = seen = 0
        reindexed = False
        with self._write_conn() as conn, conn.begin():
            cache_before = None
            if self.dialect == "sqlite":
                # The uid index takes random keys: with SQLite's 2 MB default page cache a long
                # import spends a third of its time re-reading index pages.
                cache_before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
            known = set(conn.execute(select(self._events.c.uid)).scalars())
            # Inside the transaction: an invalid event further on rolls the whole import back.
            for count, rows in self._import_batches(events, known):
                seen += count
                if seen > REINDEX_ABOVE and not reindexed:
                    # A long history: the indexes are built once at the end instead of row by
                    # row (the count is known only as the file streams by).
                    for index in self._events.indexes:
                        index.drop(conn)
                    reindexed = True
                self._insert_events(conn, rows)
                added += len(rows)
            if reindexed:
                for index in self._events.indexes:
                    index.create(conn)
            if cache_before is not None:
                conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache_before)}")
            has_profile = conn.execute(select(self._profile.c.id)).first() is not None
            if profile_row is not None and (replace_profile or not has_profile):
                conn.execute(delete(self._profile))
                conn.execute(insert(self._profile), [profile_row])
        return Imported(added=added, total=seen, profile_in_file=profile_row is not None)
