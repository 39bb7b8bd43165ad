"""The table of checks: each group module registers its functions here with a weight.

Checks are plain functions ``(ctx) -> Outcome`` so each one is small and testable on its own; the
registry adds the id, title, group and weight that the report needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aipath.portfolio.audit.models import Evidence, Status

if TYPE_CHECKING:
    from aipath.portfolio.audit.context import AuditContext

GROUPS: dict[str, str] = {
    "ownership": "End-to-end ownership",
    "discipline": "Engineering discipline",
    "hygiene": "Hygiene and security",
    "business": "Business translation",
    "kind": "Project-specific",
}


@dataclass
class Outcome:
    """What a check found; ``fix`` is shown whenever the status is not a pass."""

    status: Status
    summary: str
    evidence: list[Evidence] = field(default_factory=list)
    fix: str | None = None


CheckFn = Callable[["AuditContext"], Outcome]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    group: str
    weight: int
    fn: CheckFn
    kinds: frozenset[str] | None = None


REGISTRY: list[CheckSpec] = []


def check(
    id: str, title: str, *, group: str, weight: int, kinds: tuple[str, ...] | None = None
) -> Callable[[CheckFn], CheckFn]:
    """Register a check; ``kinds`` limits it to audits of those project kinds."""
    if group not in GROUPS:
        raise ValueError(f"unknown check group {group!r}")

    def decorate(fn: CheckFn) -> CheckFn:
        if any(spec.id == id for spec in REGISTRY):
            raise ValueError(f"check {id!r} registered twice")
        REGISTRY.append(
            CheckSpec(id, title, group, weight, fn, frozenset(kinds) if kinds else None)
        )
        return fn

    return decorate


def ev(detail: str, file: str | None = None, line: int | None = None) -> Evidence:
    return Evidence(file=file, line=line, detail=detail)
