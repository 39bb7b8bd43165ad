"""Cohorts and the people in them: create, add learners, rotate a token, authenticate.

Tokens are returned once, at creation or rotation, and never stored in the clear
(:mod:`aipath.cohort.tokens`).  Rotating replaces the hash, so the old token stops working at
once, while the user's submissions (keyed by user id) stay theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aipath.cohort import tokens
from aipath.cohort.models import ROLE_INSTRUCTOR, ROLE_LEARNER, CohortRow, UserRow
from aipath.errors import AipathError

MAX_NAME = 120


@dataclass(frozen=True)
class User:
    """Who made a request: enough to decide what they may see."""

    id: int
    name: str
    role: str
    cohort_id: int

    @property
    def is_instructor(self) -> bool:
        return self.role == ROLE_INSTRUCTOR


@dataclass
class CreatedCohort:
    """A new cohort and the tokens to hand out (shown once: only hashes are kept)."""

    cohort_id: int
    name: str
    instructor_token: str
    learner_tokens: dict[str, str] = field(default_factory=dict)


def _clean_name(name: str, what: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME or any(ch < " " for ch in cleaned):
        raise AipathError(
            f"{what} {name!r} is not a usable name",
            hint=f"1–{MAX_NAME} printable characters",
        )
    return cleaned


def _add_user(session: Session, cohort_id: int, name: str, role: str) -> str:
    token = tokens.new_token()
    session.add(
        UserRow(
            cohort_id=cohort_id,
            name=name,
            role=role,
            token_sha256=tokens.token_hash(token),
            created_at=datetime.now(UTC),
        )
    )
    return token


def create_cohort(
    engine: Engine,
    name: str,
    *,
    labs: list[str],
    start: date,
    labs_per_week: float,
    behind_margin: int = 1,
    instructor: str = "instructor",
    learners: list[str] | None = None,
) -> CreatedCohort:
    """Create the cohort with one instructor and the named learners, in one transaction."""
    name = _clean_name(name, "cohort name")
    if not labs:
        raise AipathError("a cohort needs at least one lab in its plan")
    if not 0 < labs_per_week <= 20:
        raise AipathError(f"--labs-per-week {labs_per_week:g} is out of range", hint="0–20")
    if behind_margin < 0:
        raise AipathError("--behind-margin cannot be negative")
    learner_names = [_clean_name(n, "learner name") for n in learners or []]
    if len(set(learner_names)) != len(learner_names):
        raise AipathError("a learner name is listed twice")
    with Session(engine) as session, session.begin():
        if session.scalar(select(CohortRow.id).where(CohortRow.name == name)) is not None:
            raise AipathError(f"a cohort named {name!r} already exists")
        row = CohortRow(
            name=name,
            start=start,
            labs_per_week=labs_per_week,
            behind_margin=behind_margin,
            labs=list(labs),
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        created = CreatedCohort(
            cohort_id=row.id,
            name=name,
            instructor_token=_add_user(
                session, row.id, _clean_name(instructor, "instructor name"), ROLE_INSTRUCTOR
            ),
        )
        for learner in learner_names:
            created.learner_tokens[learner] = _add_user(session, row.id, learner, ROLE_LEARNER)
    return created


def cohort_id_by_name(session: Session, name: str) -> int:
    found = session.scalar(select(CohortRow.id).where(CohortRow.name == name))
    if found is None:
        raise AipathError(f"no cohort named {name!r}", hint="`aipath cohort list` shows them")
    return found


def add_learner(engine: Engine, cohort: str, name: str) -> str:
    """Add one learner to an existing cohort; their token."""
    name = _clean_name(name, "learner name")
    with Session(engine) as session, session.begin():
        cohort_id = cohort_id_by_name(session, cohort)
        taken = session.scalar(
            select(UserRow.id).where(UserRow.cohort_id == cohort_id, UserRow.name == name)
        )
        if taken is not None:
            raise AipathError(f"{name!r} is already in the cohort {cohort!r}")
        return _add_user(session, cohort_id, name, ROLE_LEARNER)


def rotate_token(engine: Engine, cohort: str, name: str) -> str:
    """A new token for one user; the old one stops working when this returns."""
    token = tokens.new_token()
    with Session(engine) as session, session.begin():
        cohort_id = cohort_id_by_name(session, cohort)
        changed = session.execute(
            update(UserRow)
            .where(UserRow.cohort_id == cohort_id, UserRow.name == name)
            .values(token_sha256=tokens.token_hash(token))
            .returning(UserRow.id)
        ).first()
        if changed is None:
            raise AipathError(f"no user {name!r} in the cohort {cohort!r}")
    return token


def list_cohorts(engine: Engine) -> list[tuple[int, str, int]]:
    """(id, name, number of learners) of every cohort."""
    with Session(engine) as session:
        cohorts = session.execute(select(CohortRow.id, CohortRow.name).order_by(CohortRow.id))
        result = []
        for cohort_id, name in cohorts:
            learners = session.scalars(
                select(UserRow.id).where(
                    UserRow.cohort_id == cohort_id, UserRow.role == ROLE_LEARNER
                )
            ).all()
            result.append((cohort_id, name, len(learners)))
    return result


def authenticate(engine: Engine, token: str) -> User | None:
    """The user holding ``token``, or ``None``."""
    if not token.startswith(tokens.PREFIX) or len(token) > 200:
        return None
    digest = tokens.token_hash(token)
    with Session(engine) as session:
        row = session.scalar(select(UserRow).where(UserRow.token_sha256 == digest))
        if row is None or not tokens.matches(token, row.token_sha256):
            return None
        return User(id=row.id, name=row.name, role=row.role, cohort_id=row.cohort_id)


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether an insert failed only because the row is already there (PostgreSQL 23505)."""
    return getattr(exc.orig, "sqlstate", None) == "23505"
