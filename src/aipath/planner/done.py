"""What "done" means, defined once for the planner, the dashboard and the CLI.

- A **lab** is done when its check passed, or when the learner marked *that lab* done or skipped
  (a mark on its topic does not pass its labs: a lab's done is the learner's own work).
- A **skill** is done when the learner marked it (or its topic) done or skipped, or when it has
  labs and every one of them is done.
- A **project** is done when its audit says so (a learner-owned repository scoring the bar) or
  the learner marked it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

DONE_STATES = frozenset({"done", "skipped"})

__all__ = ["DONE_STATES", "is_marked", "lab_done", "project_done", "skill_done"]


def is_marked(marks: Mapping[str, str], *ids: str) -> bool:
    """True when any of ``ids`` is marked done or skipped."""
    return any(marks.get(i) in DONE_STATES for i in ids)


def lab_done(lab_id: str, passed_labs: Iterable[str], marks: Mapping[str, str]) -> bool:
    return lab_id in set(passed_labs) or is_marked(marks, lab_id)


def skill_done(
    skill_id: str,
    topic_id: str,
    lab_ids: Iterable[str],
    passed_labs: Iterable[str],
    marks: Mapping[str, str],
) -> bool:
    if is_marked(marks, skill_id, topic_id):
        return True
    passed = set(passed_labs)
    labs = list(lab_ids)
    return bool(labs) and all(lab_done(lab, passed, marks) for lab in labs)


def project_done(project_id: str, done_projects: Iterable[str], marks: Mapping[str, str]) -> bool:
    return project_id in set(done_projects) or is_marked(marks, project_id)
