"""Adapters: the roadmap, the lab catalogue and the progress store → the planner's plain inputs.

The only place that knows the shapes of ``aipath.roadmap``, ``aipath.labs``
and ``aipath.progress``; :func:`aipath.planner.schedule.build_plan` stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from aipath.planner.model import (
    JobReadyInput,
    LabInput,
    PhaseInput,
    PlanProgress,
    ProjectInput,
    SkillInput,
    TopicInput,
)
from aipath.progress.store import ProgressStore
from aipath.progress.types import AuditRecord

if TYPE_CHECKING:
    from aipath.labs import Catalogue
    from aipath.roadmap import Roadmap

# An audit at or above this score counts a portfolio project as done.
PASSING_AUDIT_SCORE: Final = 70


def phases_from_roadmap(roadmap: Roadmap) -> tuple[PhaseInput, ...]:
    return tuple(
        PhaseInput(
            id=phase.id,
            number=phase.number,
            title=phase.title,
            hours=phase.hours,
            topics=tuple(
                TopicInput(
                    id=topic.id,
                    title=topic.title,
                    track=topic.track,
                    skills=tuple(SkillInput(s.id, s.title, s.hours) for s in topic.skills),
                )
                for topic in phase.topics
            ),
        )
        for phase in roadmap.phases
    )


def projects_from_roadmap(roadmap: Roadmap) -> tuple[ProjectInput, ...]:
    return tuple(
        ProjectInput(id=p.id, title=p.title, phase=p.phase, skills=tuple(p.skills))
        for p in roadmap.projects
    )


def job_ready_from_roadmap(roadmap: Roadmap) -> JobReadyInput:
    return JobReadyInput(phase=roadmap.job_ready.phase, fraction=roadmap.job_ready.fraction)


def labs_from_catalogue(catalogue: Catalogue) -> tuple[LabInput, ...]:
    return tuple(
        LabInput(
            id=lab.manifest.id,
            title=lab.manifest.title,
            phase=lab.manifest.phase,
            topic=lab.manifest.topic,
            skills=tuple(lab.manifest.skills),
            minutes=lab.manifest.minutes,
            requires=tuple(lab.manifest.requires),
        )
        for lab in catalogue.labs
    )


def projects_done_by_audit(
    projects: Iterable[ProjectInput], audits: Iterable[AuditRecord]
) -> frozenset[str]:
    """Projects whose audit (matched by kind: ``tabular`` ↔ ``proj.tabular``) passed."""
    passed_kinds = {
        a.kind
        for a in audits
        if a.kind
        and a.score >= PASSING_AUDIT_SCORE
        and not a.report.get("untouched_scaffold", False)  # the template is not the learner's
    }
    done: set[str] = set()
    for proj in projects:
        short = proj.id.split(".", 1)[-1]
        if proj.id in passed_kinds or short in passed_kinds:
            done.add(proj.id)
    return frozenset(done)


def progress_from_store(
    store: ProgressStore, projects: Iterable[ProjectInput] = ()
) -> PlanProgress:
    """Passed labs, marks, audited projects and study minutes per day, read from the store."""
    states = store.lab_states()
    return PlanProgress(
        passed_labs=frozenset(lab for lab, st in states.items() if st.ever_passed),
        marks=store.marks(),
        done_projects=projects_done_by_audit(projects, store.audits()),
        daily_minutes=store.daily_minutes(),
    )
