"""The audit report: what the CLI prints, the dashboard shows and the progress store keeps.

Pydantic models so the same object serialises to JSON for ``--json`` and for the progress event,
and renders to Markdown for ``--markdown``, without each front end re-deriving anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["pass", "warn", "fail", "skip"]

STATUS_CREDIT: dict[str, float] = {"pass": 1.0, "warn": 0.5, "fail": 0.0}
STATUS_ICON: dict[str, str] = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


class Evidence(BaseModel):
    """Where a finding was seen, so a reviewer can open the file at that line."""

    file: str | None = None
    line: int | None = None
    detail: str

    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


class CheckResult(BaseModel):
    """One check's verdict with the evidence behind it and the way to fix it."""

    id: str
    title: str
    group: str
    status: Status
    weight: int
    summary: str
    evidence: list[Evidence] = Field(default_factory=list)
    fix: str | None = None


class GroupResult(BaseModel):
    """The checks under one hiring criterion, with the group's own 0–100 score."""

    id: str
    title: str
    score: int | None
    checks: list[CheckResult]


class MaturityCriterion(BaseModel):
    """One thing a level of MLOps maturity needs, whether the repository shows it, and where."""

    id: str
    level: int
    title: str
    met: bool
    summary: str
    evidence: list[Evidence] = Field(default_factory=list)
    fix: str | None = None


class MaturityReport(BaseModel):
    """The MLOps maturity level a pipeline project reaches (0 = not yet level 1) and why."""

    level: int
    goal: int
    title: str
    criteria: list[MaturityCriterion]

    def missing(self) -> list[MaturityCriterion]:
        """What the next level still needs (empty once the goal is reached)."""
        return [c for c in self.criteria if c.level == self.level + 1 and not c.met]

    def to_markdown(self) -> list[str]:
        lines = [f"## MLOps maturity — level {self.level} of {self.goal}: {self.title}", ""]
        lines += ["| level | | criterion | finding |", "|---|---|---|---|"]
        for c in self.criteria:
            mark = "met" if c.met else "not yet"
            lines.append(f"| {c.level} | {mark} | {_cell(c.title)} | {_cell(c.summary)} |")
        lines.append("")
        for c in self.criteria:
            if c.met:
                continue
            lines.append(f"**Level {c.level}: {c.title}**")
            lines.append("")
            for ev in c.evidence:
                where = ev.where()
                lines.append(f"- {'`' + where + '` ' if where else ''}{ev.detail}")
            if c.fix:
                lines.append(f"- *Fix:* {c.fix}")
            lines.append("")
        return lines


class AuditReport(BaseModel):
    """A repository's score out of 100, one line per check, grouped by hiring criterion."""

    path: str
    kind: str | None
    score: int
    grade: str
    groups: list[GroupResult]
    notes: list[str] = Field(default_factory=list)
    files_seen: int = 0
    is_git: bool = False
    duration_s: float = 0.0
    untouched_scaffold: bool = Field(
        default=False,
        description="every file is still as `aipath project new` wrote it: the score is 0",
    )
    maturity: MaturityReport | None = Field(
        default=None, description="the MLOps maturity level reached (pipeline projects)"
    )

    def checks(self) -> Iterator[CheckResult]:
        for group in self.groups:
            yield from group.checks

    def check(self, check_id: str) -> CheckResult:
        for result in self.checks():
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def problems(self) -> list[CheckResult]:
        """Failed checks first, then warnings: the to-do list a learner works through."""
        failed = [c for c in self.checks() if c.status == "fail"]
        warned = [c for c in self.checks() if c.status == "warn"]
        return failed + warned

    def to_markdown(self) -> str:
        kind = f" (kind: {self.kind})" if self.kind else ""
        lines = [
            f"# Portfolio audit: {self.path}{kind}",
            "",
            f"**Score: {self.score}/100 (grade {self.grade})** — "
            f"{self.files_seen} files looked at in {self.duration_s:.1f} s.",
            "",
        ]
        for note in self.notes:
            lines.append(f"> {note}")
        if self.notes:
            lines.append("")
        for group in self.groups:
            score = "n/a" if group.score is None else f"{group.score}/100"
            lines += [f"## {group.title} — {score}", ""]
            lines += ["| | check | weight | finding |", "|---|---|---|---|"]
            for c in group.checks:
                lines.append(
                    f"| {STATUS_ICON[c.status]} | {_cell(c.title)} | {c.weight} | {_cell(c.summary)} |"
                )
            lines.append("")
            for c in group.checks:
                if c.status in ("pass", "skip") or not (c.evidence or c.fix):
                    continue
                lines.append(f"**{STATUS_ICON[c.status]} {c.title}**")
                lines.append("")
                for ev in c.evidence:
                    where = ev.where()
                    lines.append(f"- {'`' + where + '` ' if where else ''}{ev.detail}")
                if c.fix:
                    lines.append(f"- *Fix:* {c.fix}")
                lines.append("")
        if self.maturity is not None:
            lines += self.maturity.to_markdown()
        return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def grade_for(score: int) -> str:
    """A letter a learner can compare between audits (the number is the real signal)."""
    for floor, letter in ((90, "A"), (80, "B"), (65, "C"), (50, "D")):
        if score >= floor:
            return letter
    return "F"
